"""The dataset graph: dependency order, selection, and what lies downstream."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from assay.errors import DefinitionError, UsageError
from assay.pipelines.spec import DatasetSpec


class Dag:
    """Datasets keyed by name, with edges from each input to its consumers.

    Example:
        >>> from assay.pipelines.sources import PythonSource
        >>> from assay.pipelines.spec import Kind
        >>> a = DatasetSpec("bronze.a", Kind.FULL, PythonSource(print))
        >>> b = DatasetSpec("silver.b", Kind.FULL, PythonSource(print), inputs=("bronze.a",))
        >>> Dag([b, a]).order()
        ['bronze.a', 'silver.b']
    """

    def __init__(self, specs: Iterable[DatasetSpec]):
        self.specs: dict[str, DatasetSpec] = {}
        for spec in specs:
            if spec.name in self.specs:
                raise DefinitionError(
                    f"dataset declared twice: also at {self.specs[spec.name].origin}",
                    where=spec.where,
                    hint="give each dataset a unique layer.name",
                )
            self.specs[spec.name] = spec
        for spec in self.specs.values():
            for name in spec.inputs:
                if name not in self.specs:
                    raise DefinitionError(
                        f"unknown input {name!r}",
                        where=spec.where,
                        hint=f"known datasets: {', '.join(sorted(self.specs))}",
                    )
        self.consumers: dict[str, list[str]] = {n: [] for n in self.specs}
        for spec in self.specs.values():
            for name in spec.inputs:
                self.consumers[name].append(spec.name)
        self._order = self._topological()

    def _topological(self) -> list[str]:
        order: list[str] = []
        state: dict[str, int] = {}  # 1: visiting, 2: done

        def visit(name: str, path: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = " -> ".join([*path[path.index(name) :], name])
                raise DefinitionError(f"dependency cycle: {cycle}", where=self.specs[name].where)
            state[name] = 1
            for dep in sorted(self.specs[name].inputs):
                visit(dep, [*path, name])
            state[name] = 2
            order.append(name)

        for name in sorted(self.specs):
            visit(name, [])
        return order

    def order(self, names: Iterable[str] | None = None) -> list[str]:
        """Names in dependency order (all, or just `names`)."""
        if names is None:
            return list(self._order)
        wanted = set(names)
        return [n for n in self._order if n in wanted]

    def downstream(self, name: str) -> list[str]:
        """Every dataset that reads `name`, directly or not, in dependency order."""
        seen: set[str] = set()
        stack = list(self.consumers[name])
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.consumers[current])
        return self.order(seen)

    def upstream(self, name: str) -> list[str]:
        seen: set[str] = set()
        stack = list(self.specs[name].inputs)
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.specs[current].inputs)
        return self.order(seen)

    def select(self, selectors: Iterable[str]) -> list[str]:
        """Resolve `--select` values: names, `+name` (with upstream), `name+` (with downstream),
        or a layer (`silver`)."""
        chosen: set[str] = set()
        for raw in selectors:
            name = raw.strip("+")
            if name in self.specs:
                chosen.add(name)
                if raw.startswith("+"):
                    chosen.update(self.upstream(name))
                if raw.endswith("+"):
                    chosen.update(self.downstream(name))
            elif any(n.startswith(f"{name}.") for n in self.specs):
                chosen.update(n for n in self.specs if n.startswith(f"{name}."))
            else:
                raise UsageError(
                    f"--select {raw!r} matches no dataset",
                    hint=f"known datasets: {', '.join(sorted(self.specs))}",
                )
        return self.order(chosen)

    def __getitem__(self, name: str) -> DatasetSpec:
        if name not in self.specs:
            raise UsageError(
                f"unknown dataset {name!r}", hint=f"known datasets: {', '.join(sorted(self.specs))}"
            )
        return self.specs[name]

    def time_columns(self) -> dict[str, str | None]:
        """Each dataset's declared time column."""
        return {name: spec.time_column for name, spec in self.specs.items()}

    def items(self) -> Mapping[str, DatasetSpec]:
        return {n: self.specs[n] for n in self._order}
