"""Dynamic batching: concurrent inputs in one call, the event loop never blocked."""

import asyncio
import threading
import time

from cnnrnn.serving.batching import DynamicBatcher


class Recorder:
    """A model call that doubles its items and records each batch it gets."""

    def __init__(self, seconds=0.0, refuse=None):
        self.batches, self.threads = [], set()
        self.seconds, self.refuse = seconds, refuse

    def __call__(self, items, key):
        self.batches.append((list(items), key))
        self.threads.add(threading.current_thread().name)
        time.sleep(self.seconds)
        if self.refuse in items:
            raise ValueError(f"item {self.refuse} is bad")
        return [item * 2 for item in items]


def run(coroutine_function):
    return asyncio.run(coroutine_function())


async def request(batcher, items, key=None):
    """What the API does per request: read it (on its way), then submit."""
    with batcher.arriving():
        await asyncio.sleep(0.002)
    return await batcher.submit(items, key)


def test_concurrent_requests_are_gathered_into_one_call_up_to_the_limit():
    model = Recorder()

    async def main():
        batcher = DynamicBatcher(model, max_batch_size=8, timeout_ms=50)
        batcher.start()
        answers = await asyncio.gather(*(request(batcher, [n]) for n in range(10)))
        await batcher.stop()
        return answers

    assert run(main) == [[2 * n] for n in range(10)]
    assert [len(items) for items, _ in model.batches] == [8, 2]
    assert model.threads == {"model_0"}  # never the event loop's thread


def test_a_batch_size_of_one_calls_the_model_per_input():
    model = Recorder()

    async def main():
        batcher = DynamicBatcher(model, max_batch_size=1, timeout_ms=50)
        batcher.start()
        await asyncio.gather(*(request(batcher, [n]) for n in range(5)))
        await batcher.stop()
        return batcher.batch_sizes

    assert run(main) == {1: 5}


def test_inputs_with_other_options_run_in_calls_of_their_own():
    model = Recorder()

    async def main():
        batcher = DynamicBatcher(model, max_batch_size=8, timeout_ms=50)
        batcher.start()
        await asyncio.gather(
            request(batcher, [1, 2], key="beam 3"),
            request(batcher, [3], key="greedy"),
        )
        await batcher.stop()

    run(main)
    assert sorted(model.batches) == [([1, 2], "beam 3"), ([3], "greedy")]


def test_a_bad_input_fails_only_its_own_request():
    model = Recorder(refuse=3)

    async def main():
        batcher = DynamicBatcher(model, max_batch_size=8, timeout_ms=50)
        batcher.start()
        answers = await asyncio.gather(
            request(batcher, [1]),
            request(batcher, [3]),
            request(batcher, [5]),
            return_exceptions=True,
        )
        await batcher.stop()
        return answers

    good, bad, other = run(main)
    assert (good, other) == ([2], [10])
    assert isinstance(bad, ValueError) and "item 3" in str(bad)
    assert model.batches[0][0] == [1, 3, 5]  # tried together first


def test_the_event_loop_serves_on_while_the_model_works():
    model = Recorder(seconds=0.3)

    async def main():
        batcher = DynamicBatcher(model, max_batch_size=8, timeout_ms=1)
        batcher.start()
        ticks = 0

        async def tick():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.get_running_loop().create_task(tick())
        await batcher.submit([1])
        ticker.cancel()
        await batcher.stop()
        return ticks

    assert run(main) >= 10  # the loop ran during the 0.3 s model call


def test_a_lone_request_is_not_kept_waiting_and_a_late_one_is_awaited():
    async def main():
        batcher = DynamicBatcher(Recorder(), max_batch_size=32, timeout_ms=200)
        batcher.start()
        started = time.perf_counter()
        await batcher.submit([1])  # nothing else on its way
        alone = time.perf_counter() - started
        started = time.perf_counter()

        async def late():
            with batcher.arriving():
                await asyncio.sleep(0.05)  # read while the batch is open
            return await batcher.submit([2])

        await asyncio.gather(request(batcher, [1]), late())
        together = time.perf_counter() - started
        await batcher.stop()
        return alone, together, batcher.batch_sizes

    alone, together, sizes = run(main)
    assert alone < 0.05  # not the 200 ms timeout
    assert 0.05 <= together < 0.2 and sizes == {1: 1, 2: 1}
