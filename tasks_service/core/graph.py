"""Directed graphs of ids (a workflow's plan, a workflow template's relations): the one
cycle check and the one topological order, each O(V+E)."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Hashable, Iterable, Mapping
from typing import TypeVar

N = TypeVar("N", bound=Hashable)


def successors_of(edges: Iterable[tuple[N, N]]) -> dict[N, list[N]]:
    """``{predecessor: [successors]}`` of ``(predecessor, successor)`` pairs."""
    out: dict[N, list[N]] = defaultdict(list)
    for before, after in edges:
        out[before].append(after)
    return out


def path(successors: Mapping[N, Iterable[N]], start: N, goal: N) -> list[N] | None:
    """A path ``start .. goal`` following ``successors`` (breadth first: a shortest one),
    or None. ``path(s, a, a)`` is ``[a]``."""
    came_from: dict[N, N | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            found = [node]
            while (previous := came_from[found[-1]]) is not None:
                found.append(previous)
            return found[::-1]
        for following in successors.get(node, ()):
            if following not in came_from:
                came_from[following] = node
                queue.append(following)
    return None


def cycle_closed_by(
    successors: Mapping[N, Iterable[N]], predecessor: N, successor: N
) -> list[N] | None:
    """The cycle that a new link ``predecessor -> successor`` would close in an acyclic
    graph, as the ids in order from ``predecessor`` back to it (``[a, b, a]`` for a link
    b -> a where a -> b exists), or None when the link keeps the graph acyclic."""
    back = path(successors, successor, predecessor)
    return None if back is None else [predecessor, *back]


def find_cycle(nodes: Iterable[N], edges: Iterable[tuple[N, N]]) -> list[N] | None:
    """One cycle of the graph as the ids in order, first repeated at the end, or None."""
    successors = successors_of(edges)
    state: dict[N, int] = {}  # 1: on the current path, 2: done
    for root in nodes:
        if root in state:
            continue
        stack: list[tuple[N, list[N]]] = [(root, list(successors.get(root, ())))]
        trail = [root]
        state[root] = 1
        while stack:
            node, pending = stack[-1]
            if not pending:
                state[node] = 2
                stack.pop()
                trail.pop()
                continue
            following = pending.pop()
            if state.get(following) == 1:
                return [*trail[trail.index(following) :], following]
            if following not in state:
                state[following] = 1
                trail.append(following)
                stack.append((following, list(successors.get(following, ()))))
    return None


def topological_order(nodes: Iterable[N], edges: Iterable[tuple[N, N]]) -> list[N]:
    """The nodes, each after all of its predecessors (Kahn; ties in the order given).
    Raises ValueError on a cycle."""
    order_given = list(dict.fromkeys(nodes))
    successors = successors_of(edges)
    waiting: dict[N, int] = dict.fromkeys(order_given, 0)
    for targets in successors.values():
        for node in targets:
            waiting[node] = waiting.get(node, 0) + 1
    ready = deque(node for node in order_given if waiting[node] == 0)
    out: list[N] = []
    while ready:
        node = ready.popleft()
        out.append(node)
        for following in successors.get(node, ()):
            waiting[following] -= 1
            if waiting[following] == 0:
                ready.append(following)
    if len(out) != len(waiting):
        raise ValueError("the graph has a cycle")
    return out
