"""Dynamic batching: concurrent requests' inputs gathered into one model call."""

import asyncio
import collections
import concurrent.futures
import contextlib


class DynamicBatcher:
    """Runs the inputs of concurrent requests through one function call.

    Inputs wait in a queue. The first one in opens a batch, which takes what
    else is queued and, while other requests are on their way (see
    `arriving`), waits up to `timeout_ms` for more; it closes at
    `max_batch_size` inputs. A lone request is not kept waiting. The batch
    runs in one thread of its own, so the event loop keeps serving while the
    model works, and one batch runs at a time. Inputs with different keys
    (say, different decoding options) go through separate calls of the same
    batch. When a call raises, each of its inputs runs alone, so that one bad
    input fails only its own request.

    Args:
        run: callable. `run(items, key)` returns one result per item.
        max_batch_size: int. Most inputs per call.
        timeout_ms: float. Longest wait for more inputs once one is queued
            and others are arriving.

    Example:

    >>> batcher = DynamicBatcher(lambda items, key: [x * 2 for x in items],
    ...                          max_batch_size=32, timeout_ms=5)
    >>> await batcher.submit([1, 2])   # within a running event loop
    [2, 4]
    """

    def __init__(self, run, *, max_batch_size, timeout_ms):
        self.run = run
        self.max_batch_size = max_batch_size
        self.timeout = timeout_ms / 1000
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="model"
        )
        self.batch_sizes = collections.Counter()  # for /v1/model and benchmarks
        self._queue = None
        self._task = None
        self._arriving = 0

    def start(self):
        """Starts the batching loop on the running event loop."""
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self):
        """Stops the loop, then the model thread."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.executor.shutdown(wait=True)

    @contextlib.contextmanager
    def arriving(self):
        """Marks a request on its way to `submit` (being read and checked):
        an open batch waits for its inputs, up to the timeout."""
        self._arriving += 1
        try:
            yield
        finally:
            self._arriving -= 1

    async def submit(self, items, key=None):
        """Queues `items` and returns their results, in order.

        Raises:
            The exception that running an item alone raised.
        """
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in items]
        for item, future in zip(items, futures, strict=True):
            self._queue.put_nowait((key, item, future))
        return list(await asyncio.gather(*futures))

    async def call(self, function, *args):
        """Runs `function(*args)` in the model thread, between batches."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, function, *args)

    async def _loop(self):
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            deadline = loop.time() + self.timeout
            while len(batch) < self.max_batch_size:
                if self._queue.empty():
                    remaining = deadline - loop.time()
                    if remaining <= 0 or not self._arriving:
                        break
                    try:
                        batch.append(
                            await asyncio.wait_for(self._queue.get(), remaining)
                        )
                    except asyncio.TimeoutError:
                        break
                else:
                    batch.append(self._queue.get_nowait())
            groups = collections.defaultdict(list)
            for key, item, future in batch:
                if not future.cancelled():  # its client went away
                    groups[key].append((item, future))
            for key, entries in groups.items():
                await self._run_group(key, entries)

    async def _run_group(self, key, entries):
        items = [item for item, _ in entries]
        self.batch_sizes[len(items)] += 1
        try:
            results = await self.call(self.run, items, key)
        except Exception as error:  # noqa: BLE001 - each input alone says which failed
            if len(entries) == 1:
                _settle(entries[0][1], error=error)
                return
            for entry in entries:
                await self._run_group(key, [entry])
            return
        for (_, future), result in zip(entries, results, strict=True):
            _settle(future, result=result)


def _settle(future, *, result=None, error=None):
    if future.done():  # cancelled meanwhile
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
