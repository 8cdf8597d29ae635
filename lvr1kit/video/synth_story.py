"""The step-by-step story engine of the synthetic world: agents, items, plans and event emission.

Contents:
    - ``Agent``, ``Item``, ``Task`` (a scripted agenda entry) and ``Plan`` (a move now, an act next step).
    - ``StoryEngine``: advances the world one step at a time and records events and per-step states.

Used by ``synth_world.simulate_world``; nothing here draws pixels. Each agent does at most one thing per step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lvr1kit.video.synth_config import AGENT_COLORS, CELLS_PER_ZONE, GOAL_TEMPLATES, WorldConfig, geometry_for

EVENT_FIELDS: tuple[str, ...] = (
    "type", "id", "kind", "step", "start_s", "end_s", "agent", "zone", "from_zone", "to_zone", "item",
    "other_agent", "goal", "goal_text", "goal_achieved", "outcome_id", "color_from", "color_to", "caused_by",
    "text",
)  # fmt: skip
"""Keys of every event record, in this order; keys that do not apply to an event kind are ``null``."""


@dataclass
class Task:
    """A scripted agenda entry, started once due (``step >= earliest``) and feasible."""

    kind: str
    earliest: int = 0
    item: int = 0
    other: int = 0
    then_reserve_for: int | None = None
    gap_steps: int = 0
    release: bool = False


@dataclass
class Plan:
    """A started goal: the move happened, the act (pickup, drop, handover) is due at ``act_step``."""

    goal: str
    act_step: int
    item: int
    other: int | None
    move_id: int
    task: Task | None


@dataclass
class Agent:
    """One agent: a uniquely shaped, coloured actor."""

    index: int
    shape: str
    color: str
    entry_step: int = 0
    present: bool = False
    gone: bool = False
    cell: int = -1
    carrying: int | None = None
    plan: Plan | None = None
    wait_until: int = -1
    agenda: list[Task] = field(default_factory=list)
    initial_color: str = ""

    def __post_init__(self) -> None:
        self.initial_color = self.initial_color or self.color

    @property
    def agent_id(self) -> str:
        """Stable id used in the log (``A0``, ``A1``, ...)."""
        return f"A{self.index}"

    @property
    def zone(self) -> int:
        """Index of the zone the agent is in (-1 when absent)."""
        return self.cell // CELLS_PER_ZONE if self.cell >= 0 else -1


@dataclass
class Item:
    """One item; either lying in a cell or carried by an agent."""

    index: int
    name: str
    cell: int = -1
    holder: int | None = None
    last_event: int | None = None
    scripted: bool = False
    reserved_for: int | None = None
    locked_until: int = 0

    @property
    def item_id(self) -> str:
        """Stable id used in the log (``I0`` is the star)."""
        return f"I{self.index}"


class StoryEngine:
    """Runs the world step by step; results land in ``events`` and ``states``."""

    def __init__(
        self,
        config: WorldConfig,
        rng: np.random.Generator,
        agents: list[Agent],
        items: list[Item],
        star_fetcher: int,
    ) -> None:
        self.cfg, self.rng, self.agents, self.items = config, rng, agents, items
        self.star_fetcher = star_fetcher
        self.geo = geometry_for(config.frame_size, config.num_zones)
        self.zone_names = config.zone_names
        self.occupied: dict[int, str] = {}
        self.events: list[dict[str, Any]] = []
        self.states: list[dict[str, Any]] = []
        self.t = 0
        self.acted: set[int] = set()

    def run(self) -> None:
        """Simulate every step of the video."""
        for t in range(self.cfg.num_steps):
            self.t, self.acted = t, set()
            if t == 0:
                self._place_items()
            for agent in self.agents:
                self._step_agent(agent)
            self.states.append(self._state())

    def _step_agent(self, a: Agent) -> None:
        if not a.present:
            if not a.gone and a.entry_step == self.t:
                self._enter(a)
            return
        if a.index in self.acted:
            return
        if a.plan is not None:
            if a.plan.act_step == self.t:
                self._act(a)
            return
        if self.t <= a.wait_until or self._try_agenda(a):
            return
        if self.rng.random() < self.cfg.event_rate:
            self._random_plan(a)

    def _free_cells(self, zone: int) -> list[int]:
        base = zone * CELLS_PER_ZONE
        return [c for c in range(base, base + CELLS_PER_ZONE) if c not in self.occupied]

    def _zones_with(self, n_free: int, exclude: set[int]) -> list[int]:
        zones = range(self.cfg.num_zones)
        return [z for z in zones if z not in exclude and len(self._free_cells(z)) >= n_free]

    def _pick(self, seq: list[int]) -> int:
        return seq[int(self.rng.integers(len(seq)))]

    def _zname(self, zone: int) -> str:
        return self.zone_names[zone]

    def _aname(self, index: int) -> str:
        return f"the {self.agents[index].shape}"

    def _iname(self, index: int) -> str:
        return f"the {self.items[index].name}"

    def _emit(self, kind: str, agent: Agent | None, text: str, **fields: Any) -> int:
        record: dict[str, Any] = dict.fromkeys(EVENT_FIELDS)
        step_s = self.cfg.step_seconds
        record.update(type="event", id=len(self.events), kind=kind, step=self.t, caused_by=[], text=text)
        record.update(start_s=self.t * step_s, end_s=(self.t + 1) * step_s)
        if agent is not None:
            record.update(agent=agent.agent_id, zone=self._zname(agent.zone))
        record.update(fields)
        record["caused_by"] = sorted({c for c in record["caused_by"] if c is not None})
        self.events.append(record)
        if agent is not None:
            self.acted.add(agent.index)
        return record["id"]

    def _place_items(self) -> None:
        for item in self.items:
            zone = self._pick(self._zones_with(1, set()))
            item.cell = self._pick(self._free_cells(zone))
            self.occupied[item.cell] = f"i{item.index}"
            text = f"{self._iname(item.index)} lies in {self._zname(zone)}"
            item.last_event = self._emit("item_placed", None, text, zone=self._zname(zone), item=item.item_id)
        self.items[0].reserved_for = self.star_fetcher
        self.items[0].scripted = True

    def _enter(self, a: Agent) -> None:
        exclude = {self.items[0].cell // CELLS_PER_ZONE} if a.index == self.star_fetcher else set()
        zones = self._zones_with(1, exclude) or self._zones_with(1, set())
        self._occupy(a, self._pick(self._free_cells(self._pick(zones))))
        a.present = True
        self._emit("enter", a, f"{self._aname(a.index)} entered the scene in {self._zname(a.zone)}")

    def _occupy(self, a: Agent, cell: int) -> None:
        self.occupied.pop(a.cell, None)
        a.cell = cell
        self.occupied[cell] = f"a{a.index}"

    def _try_agenda(self, a: Agent) -> bool:
        for task in list(a.agenda):
            if self.t < task.earliest or (task.kind == "leave" and len(a.agenda) > 1):
                continue
            if self._start_task(a, task):
                return True
        return False

    def _start_task(self, a: Agent, task: Task) -> bool:
        if task.kind == "fetch":
            item = self.items[task.item]
            if item.holder is not None or item.reserved_for != a.index or self.t < item.locked_until:
                return False
            return self._plan_fetch(a, task.item, task)
        if task.kind == "meet":
            ok = a.carrying == task.item and self._is_receiver(task.other)
            return ok and self._plan_meet(a, task.other, task)
        if task.kind == "deliver":
            return a.carrying == task.item and self._plan_deliver(a, task)
        if task.kind == "color":
            return self._change_color(a, task)
        return self._leave(a, task)

    def _finish_task(self, a: Agent, task: Task | None) -> None:
        if task is None:
            return
        a.agenda.remove(task)
        if task.kind == "deliver" and task.item is not None:
            item = self.items[task.item]
            item.reserved_for, item.locked_until = task.then_reserve_for, self.t + task.gap_steps
        if task.release and task.item is not None:
            self.items[task.item].scripted, self.items[task.item].reserved_for = False, None

    def _change_color(self, a: Agent, task: Task) -> bool:
        worn = {b.color for b in self.agents if b.present}
        spare = [c for c in AGENT_COLORS if c not in worn]
        if not spare:
            return False
        old, a.color = a.color, spare[int(self.rng.integers(len(spare)))]
        text = f"{self._aname(a.index)} changed colour from {old} to {a.color} in {self._zname(a.zone)}"
        self._emit("color_change", a, text, color_from=old, color_to=a.color)
        a.agenda.remove(task)
        return True

    def _leave(self, a: Agent, task: Task) -> bool:
        if a.carrying is not None:
            return self._drop(a, None, suffix=" before leaving") is not None
        text = f"{self._aname(a.index)} left the scene from {self._zname(a.zone)} for good"
        self._emit("leave", a, text)
        self.occupied.pop(a.cell, None)
        a.present, a.gone, a.cell = False, True, -1
        a.agenda.remove(task)
        return True

    def _is_receiver(self, index: int | None, giver: Agent | None = None) -> bool:
        if index is None or (giver is not None and index == giver.index):
            return False
        b = self.agents[index]
        return b.present and b.carrying is None and b.plan is None and b.wait_until < self.t

    def _fetchable(self, item: Item, a: Agent) -> bool:
        """Whether ``a`` may set out at random to fetch ``item`` (lying free in another zone with room)."""
        if item.holder is not None or item.scripted:
            return False
        zone = item.cell // CELLS_PER_ZONE
        return zone != a.zone and bool(self._free_cells(zone))

    def _random_plan(self, a: Agent) -> None:
        options: list[str] = []
        here = {a.zone}
        if a.carrying is not None and not self.items[a.carrying].scripted:
            if self._zones_with(2, here):
                options.append("deliver")
            if any(self._is_receiver(b.index, a) for b in self.agents):
                options.append("meet")
        fetchable = [it.index for it in self.items if self._fetchable(it, a)]
        if a.carrying is None and fetchable:
            options.append("fetch")
        if self._zones_with(1, here):
            options.append("wander")
        if not options:
            return
        choice = options[int(self.rng.integers(len(options)))]
        if choice == "deliver":
            self._plan_deliver(a, None)
        elif choice == "meet":
            receivers = [b.index for b in self.agents if self._is_receiver(b.index, a)]
            self._plan_meet(a, self._pick(receivers), None)
        elif choice == "fetch":
            self._plan_fetch(a, self._pick(fetchable), None)
        else:
            self._move(a, self._pick(self._zones_with(1, here)), "wander", None, None)

    def _move(self, a: Agent, zone: int, goal: str, item: int | None, other: int | None) -> int:
        old_zone = a.zone
        self._occupy(a, self._pick(self._free_cells(zone)))
        item_name = self.items[item].name if item is not None else ""
        other_name = self.agents[other].shape if other is not None else ""
        goal_text = GOAL_TEMPLATES[goal].format(item=item_name, other=other_name)
        text = f"{self._aname(a.index)} went from {self._zname(old_zone)} to {self._zname(zone)} {goal_text}"
        return self._emit(
            "move", a, text, from_zone=self._zname(old_zone), to_zone=self._zname(zone), goal=goal,
            goal_text=goal_text, goal_achieved=True if goal == "wander" else None,
            item=self.items[item].item_id if item is not None else None,
            other_agent=self.agents[other].agent_id if other is not None else None,
        )  # fmt: skip

    def _plan_fetch(self, a: Agent, item_index: int, task: Task | None) -> bool:
        item = self.items[item_index]
        zone = item.cell // CELLS_PER_ZONE
        if zone == a.zone:
            if self._pickup(a, item_index, None) is not None:
                self._finish_task(a, task)
            return True
        if not self._free_cells(zone):
            return False
        move_id = self._move(a, zone, "fetch", item_index, None)
        a.plan = Plan("fetch", self.t + 1, item_index, None, move_id, task)
        return True

    def _plan_deliver(self, a: Agent, task: Task | None) -> bool:
        zones = self._zones_with(2, {a.zone})
        if not zones or a.carrying is None:
            return False
        move_id = self._move(a, self._pick(zones), "deliver", a.carrying, None)
        a.plan = Plan("deliver", self.t + 1, a.carrying, None, move_id, task)
        return True

    def _plan_meet(self, a: Agent, other: int, task: Task | None) -> bool:
        b = self.agents[other]
        if a.carrying is None:
            return False
        if b.zone == a.zone:
            if self._handover(a, b, None) is not None:
                self._finish_task(a, task)
            return True
        if not self._free_cells(b.zone):
            return False
        b.wait_until = self.t + 1
        move_id = self._move(a, b.zone, "meet", a.carrying, other)
        a.plan = Plan("meet", self.t + 1, a.carrying, other, move_id, task)
        return True

    def _act(self, a: Agent) -> None:
        plan, a.plan = a.plan, None
        if plan is None:
            return
        if plan.goal == "fetch":
            outcome = self._pickup(a, plan.item, plan.move_id)
        elif plan.goal == "deliver":
            outcome = self._drop(a, plan.move_id)
        else:
            outcome = self._handover(a, self.agents[plan.other or 0], plan.move_id)
        move = self.events[plan.move_id]
        move["goal_achieved"], move["outcome_id"] = outcome is not None, outcome
        if outcome is not None:
            self._finish_task(a, plan.task)

    def _pickup(self, a: Agent, item_index: int, move_id: int | None) -> int | None:
        item = self.items[item_index]
        allowed = (not item.scripted or item.reserved_for == a.index) and self.t >= item.locked_until
        if item.holder is not None or item.cell // CELLS_PER_ZONE != a.zone or not allowed:
            return None
        self.occupied.pop(item.cell, None)
        item.holder, item.cell, a.carrying = a.index, -1, item_index
        text = f"{self._aname(a.index)} picked up {self._iname(item_index)} in {self._zname(a.zone)}"
        causes = [move_id, item.last_event]
        item.last_event = self._emit("pickup", a, text, item=item.item_id, caused_by=causes)
        return item.last_event

    def _drop(self, a: Agent, move_id: int | None, suffix: str = "") -> int | None:
        free = self._free_cells(a.zone)
        if a.carrying is None or not free:
            return None
        item = self.items[a.carrying]
        item.holder, item.cell, a.carrying = None, self._pick(free), None
        self.occupied[item.cell] = f"i{item.index}"
        text = f"{self._aname(a.index)} dropped {self._iname(item.index)} in {self._zname(a.zone)}{suffix}"
        item.last_event = self._emit("drop", a, text, item=item.item_id, caused_by=[move_id, item.last_event])
        return item.last_event

    def _handover(self, a: Agent, b: Agent, move_id: int | None) -> int | None:
        ok = b.present and b.zone == a.zone and b.carrying is None and b.plan is None
        if a.carrying is None or not ok:
            return None
        item = self.items[a.carrying]
        item.holder, b.carrying, a.carrying = b.index, item.index, None
        who = f"{self._aname(a.index)} handed {self._iname(item.index)} to {self._aname(b.index)}"
        causes = [move_id, item.last_event]
        text = f"{who} in {self._zname(a.zone)}"
        fields = {"item": item.item_id, "other_agent": b.agent_id, "caused_by": causes}
        item.last_event = self._emit("handover", a, text, **fields)
        self.acted.add(b.index)
        return item.last_event

    def _state(self) -> dict[str, Any]:
        agents = []
        for a in self.agents:
            x, y = self.geo.cell_center(a.cell) if a.present else (None, None)
            agents.append({
                "agent": a.agent_id, "present": a.present, "zone": self._zname(a.zone) if a.present else None,
                "cell": a.cell if a.present else None, "x": x, "y": y, "color": a.color,
                "carrying": self.items[a.carrying].item_id if a.carrying is not None else None,
            })  # fmt: skip
        items = []
        for it in self.items:
            cell = it.cell if it.holder is None else self.agents[it.holder].cell
            x, y = self.geo.cell_center(cell)
            holder = self.agents[it.holder].agent_id if it.holder is not None else None
            zone = self._zname(cell // CELLS_PER_ZONE)
            items.append({"item": it.item_id, "zone": zone, "cell": cell, "x": x, "y": y, "holder": holder})
        step_s = self.cfg.step_seconds
        return {
            "type": "state", "step": self.t, "start_s": self.t * step_s, "end_s": (self.t + 1) * step_s,
            "agents": agents, "items": items, "distractors": [],
        }  # fmt: skip
