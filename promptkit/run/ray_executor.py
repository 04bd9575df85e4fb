"""``--executor ray``: in-process models (``local/``, ``hf/``) served by Ray actors.

Each actor holds one instance of the model and answers one request at a time, on
a Ray cluster (``--ray-address``, or ``RAY_ADDRESS``) or on a local one started
for the run. The driver keeps everything else, unchanged: cache, journal,
retries, progress. Remote providers never come here; they stay in the driver's
event loop.

    driver: Caller lane (width = actors) ─► RayModelPool.complete
                                              │ a free actor from the queue
                                              ▼
    actor i: provider = get_provider(model) ─► provider.complete(request)

An actor that dies mid-request (a killed process, a lost node) is replaced, and
its request fails with a retryable error, so the runner's retry policy asks it
again; the journal gets the one answer that came back, never two.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Mapping
from typing import Any

from promptkit.define.validate import Where
from promptkit.errors import BadInput, ProviderConfigError, ProviderError
from promptkit.providers import Completion, Provider, Request, get_provider
from promptkit.providers.base import check_actor_options, provider_factory

__all__ = ["RayModelPool", "import_ray"]


def import_ray() -> Any:
    """The ray module, or one line saying what to install."""
    try:
        import ray
    except ImportError:
        raise BadInput(
            "--executor ray needs Ray, which is not installed",
            hint="pip install 'promptkit[ray]'",
        ) from None
    return ray


def _check_fits(ray: Any, model: str, actors: int, cpus: float, gpus: float) -> None:
    """Refuse actors the cluster cannot place: Ray would wait for them forever."""
    total = ray.cluster_resources()
    for resource, each in (("CPU", cpus), ("GPU", gpus)):
        needed, has = actors * each, float(total.get(resource, 0))
        if needed > has:
            raise ProviderConfigError(
                f"{model}: {actors} actor(s) x {each:g} {resource} need {needed:g} {resource}s; "
                f"the Ray cluster has {has:g}",
                hint="lower actors, num_cpus or num_gpus in the model entry "
                "(num_cpus: 0.5 lets two actors share a core)",
            )


class _ModelActor:
    """One model instance in a Ray worker process; requests take turns on it."""

    def __init__(self, model: str, options: Mapping[str, Any]) -> None:
        self.provider = get_provider(model, options)
        self.loop = asyncio.new_event_loop()

    def complete(self, request: Request) -> Completion:
        return self.loop.run_until_complete(self.provider.complete(request))

    def ready(self) -> bool:
        return True


class RayModelPool(Provider):
    """A ``Provider`` whose requests run on ``actors`` Ray actors of the same model."""

    def __init__(
        self, model: str, options: Mapping[str, Any], *, address: str | None = None
    ) -> None:
        super().__init__(model, options)
        where = Where(key=model, error=ProviderConfigError)
        self.actors, cpus, gpus = check_actor_options(options, where)
        self.default_concurrency = self.actors  # one request in flight per actor
        self.ray = import_ray()
        self.started_cluster = not self.ray.is_initialized()
        if self.started_cluster:
            self._init(address)
        _check_fits(self.ray, model, self.actors, cpus, gpus)
        own = {k: v for k, v in options.items() if k not in ("actors", "num_cpus", "num_gpus")}
        if "n_threads" in (getattr(provider_factory(model), "option_keys", None) or ()):
            # llama.cpp would take every core of the node: an actor uses the CPUs it reserved
            own.setdefault("n_threads", max(1, round(cpus)))
        self._options = own
        self._remote = self.ray.remote(num_cpus=cpus, num_gpus=gpus)(_ModelActor)
        self._tag = secrets.token_hex(3)
        self.handles = [self._spawn(i) for i in range(self.actors)]
        self._free: asyncio.Queue[Any] | None = None

    def _init(self, address: str | None) -> None:
        # address=None: RAY_ADDRESS if set, else a local cluster started for this run.
        # A cluster promptkit starts sends no usage report home unless the user asks.
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        self.ray.init(
            address=address,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
            configure_logging=True,
        )

    def _spawn(self, index: int) -> Any:
        name = f"promptkit-{self.model.replace('/', '-')}-{self._tag}-{index}"
        return self._remote.options(name=name).remote(self.model, self._options)

    def _queue(self) -> asyncio.Queue[Any]:
        """Free actors; made on first use, inside the run's event loop."""
        if self._free is None:
            self._free = asyncio.Queue()
            for handle in self.handles:
                self._free.put_nowait(handle)
        return self._free

    async def complete(self, request: Request) -> Completion:
        free = self._queue()
        actor = await free.get()
        try:
            completion: Completion = await actor.complete.remote(request)
            return completion
        except self.ray.exceptions.RayActorError as exc:
            actor = self._replace(actor)
            reason = str(exc).splitlines()[0][:200]
            raise ProviderError(f"Ray actor died mid-request: {reason}", retryable=True) from None
        except self.ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, Exception) else None
            if isinstance(cause, ProviderError | ProviderConfigError):
                raise cause from None
            raise ProviderError(f"on a Ray actor: {exc.cause!r}"[:300]) from None
        finally:
            free.put_nowait(actor)

    def _replace(self, dead: Any) -> Any:
        index = self.handles.index(dead)
        self.handles[index] = self._spawn(index)
        return self.handles[index]

    async def aclose(self) -> None:
        if not self.ray.is_initialized():
            return  # another pool of this run shut the cluster down, and the actors with it
        for handle in self.handles:
            self.ray.kill(handle)
        if self.started_cluster:
            self.ray.shutdown()
