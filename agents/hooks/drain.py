"""DrainHook: a web process that is stopping refuses new turns and ends the turns in flight at
its drain deadline, so they are saved as interrupted, billed and settled like a user's stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from accounts.errors import ServiceRestarting
from agents.contracts import ModelRequest, StreamEvent
from agents.pipeline import Hook, ModelCall, RunOutcome
from agents.turns.turn import Turn
from monitoring import draining


class DrainHook(Hook):
    """before_agent: refuse while draining, else count the turn in flight until after_agent.
    before_model: past the deadline, stop before calling a model.
    wrap_model_call: once draining has begun, wait for the model's next event only until the
    deadline; then close the stream (the failover chain records an interrupted attempt with its
    usage) and raise ServiceRestarting, which the turn saves as interrupted.

    It wraps the failover chain (it sits above FailoverHook in agents.hooks.stack) so that closing
    reaches the provider.
    """

    name = "drain"

    async def before_agent(self, turn: Turn) -> None:
        if draining.is_draining():
            raise ServiceRestarting()
        draining.turn_register(turn)

    async def before_model(self, turn: Turn, request: ModelRequest) -> ModelRequest:
        # A turn that spent the drain time before its model call (retrieval on a busy machine)
        # stops here rather than starting one.
        if draining.deadline_passed():
            raise ServiceRestarting()
        return request

    async def after_agent(self, turn: Turn, outcome: RunOutcome) -> None:
        draining.turn_unregister(turn)

    def wrap_model_call(self, turn: Turn, call: ModelCall) -> ModelCall:
        async def drained(request: ModelRequest) -> AsyncIterator[StreamEvent]:
            stream = call(request)
            try:
                while True:
                    left = draining.seconds_left()
                    try:
                        if left is None:
                            event = await anext(stream)
                        else:
                            event = await asyncio.wait_for(anext(stream), timeout=left)
                    except StopAsyncIteration:
                        break
                    except TimeoutError:
                        raise ServiceRestarting() from None
                    yield event
                    if draining.deadline_passed():
                        raise ServiceRestarting()
            finally:
                close = getattr(stream, "aclose", None)
                if close is not None:
                    await close()

        return drained
