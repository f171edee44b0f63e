"""Pub/Sub for the tests: the official emulator (shipped with the Google Cloud CLI) on a free port, behind a gRPC proxy
in this process that counts calls, can add latency, and corrects the emulator where it differs from Pub/Sub.

The emulator refuses `update_mask: labels` on topics and subscriptions ("labels is not a known Topic field"), which
Pub/Sub allows: the proxy keeps such label updates itself (after checking the resource exists upstream) and writes them
into every topic and subscription it answers with, until the resource is made again or deleted (labels set at creation
are the emulator's own). The emulator also takes label values Pub/Sub refuses: the proxy refuses them
(INVALID_ARGUMENT). Everything else passes through as bytes. Nothing of the client library is touched.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
from google.pubsub_v1 import types as ps

EMULATOR = Path(
    os.environ.get(
        "MNOPS_PUBSUB_EMULATOR", "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator"
    )
)
PUBLISHER = "/google.pubsub.v1.Publisher/"
SUBSCRIBER = "/google.pubsub.v1.Subscriber/"
STARTUP_SECONDS = 60


def emulator_missing() -> str | None:
    """Why the emulator cannot run here, or None."""
    if not EMULATOR.is_file():
        return f"the Pub/Sub emulator is not installed ({EMULATOR}: install the Google Cloud CLI's pubsub-emulator)"
    if shutil.which("java") is None:
        return "the Pub/Sub emulator needs java, which is not installed"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# What each method's response is, where labels may need writing in: (type, how to reach its topics/subscriptions).
_RESPONSES: dict[str, tuple[Any, Callable[[Any], list[Any]]]] = {
    f"{PUBLISHER}CreateTopic": (ps.Topic, lambda m: [m]),
    f"{PUBLISHER}GetTopic": (ps.Topic, lambda m: [m]),
    f"{PUBLISHER}UpdateTopic": (ps.Topic, lambda m: [m]),
    f"{PUBLISHER}ListTopics": (ps.ListTopicsResponse, lambda m: list(m.topics)),
    f"{SUBSCRIBER}CreateSubscription": (ps.Subscription, lambda m: [m]),
    f"{SUBSCRIBER}GetSubscription": (ps.Subscription, lambda m: [m]),
    f"{SUBSCRIBER}UpdateSubscription": (ps.Subscription, lambda m: [m]),
    f"{SUBSCRIBER}ListSubscriptions": (ps.ListSubscriptionsResponse, lambda m: list(m.subscriptions)),
}


# Calls after which the labels kept for a resource are dropped: what each names.
_FORGETS: dict[str, Callable[[bytes], str]] = {
    "CreateTopic": lambda r: ps.Topic.deserialize(r).name,
    "CreateSubscription": lambda r: ps.Subscription.deserialize(r).name,
    "DeleteTopic": lambda r: ps.DeleteTopicRequest.deserialize(r).topic,
    "DeleteSubscription": lambda r: ps.DeleteSubscriptionRequest.deserialize(r).subscription,
}


LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
# What each writing call's request carries labels in.
_LABELLED: dict[str, Callable[[bytes], Any]] = {
    "CreateTopic": lambda r: ps.Topic.deserialize(r),
    "CreateSubscription": lambda r: ps.Subscription.deserialize(r),
    "UpdateTopic": lambda r: ps.UpdateTopicRequest.deserialize(r).topic,
    "UpdateSubscription": lambda r: ps.UpdateSubscriptionRequest.deserialize(r).subscription,
}


class _Refused(grpc.RpcError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.INVALID_ARGUMENT

    def details(self) -> str:
        return self.message


def _refuse_bad_labels(name: str, request: bytes) -> None:
    """The emulator takes label values Pub/Sub refuses (upper case, `/`): refuse them as Pub/Sub does."""
    read = _LABELLED.get(name)
    if read is None:
        return
    for key, value in read(request).labels.items():
        if not LABEL_KEY.match(key) or not LABEL_VALUE.match(value):
            raise _Refused(f"Invalid label: {key}")


class PubSubProxy(grpc.GenericRpcHandler):
    """Forwards every unary call to the emulator; `calls` counts them by method, `delay` is added to each."""

    def __init__(self, upstream: str) -> None:
        self.channel = grpc.insecure_channel(upstream)
        self.calls: Counter[str] = Counter()
        self.delay = 0.0
        self.labels: dict[str, dict[str, str]] = {}
        self.lock = threading.Lock()

    def service(self, handler_call_details: Any) -> Any:
        method = handler_call_details.method
        if not method.startswith((PUBLISHER, SUBSCRIBER)) or method.endswith(("StreamingPull",)):
            return None
        return grpc.unary_unary_rpc_method_handler(lambda request, context: self._answer(method, request, context))

    def _upstream(self, method: str, request: bytes) -> bytes:
        return self.channel.unary_unary(method)(request, timeout=30)

    def _answer(self, method: str, request: bytes, context: grpc.ServicerContext) -> bytes:
        with self.lock:
            self.calls[method.rsplit("/", 1)[1]] += 1
        if self.delay:
            time.sleep(self.delay)
        try:
            answer = self._forward(method, request)
        except grpc.RpcError as exc:
            context.abort(exc.code(), exc.details())
        return answer

    def _forward(self, method: str, request: bytes) -> bytes:
        name = method.rsplit("/", 1)[1]
        _refuse_bad_labels(name, request)
        if name in ("UpdateTopic", "UpdateSubscription"):
            return self._update(method, name, request)
        answer = self._upstream(method, request)
        forgotten = _FORGETS.get(name)
        if forgotten is not None:  # made again or deleted: the emulator's labels are the truth from here on
            with self.lock:
                self.labels.pop(forgotten(request), None)
        return self._relabel(method, answer)

    def _update(self, method: str, name: str, request: bytes) -> bytes:
        kind = "topic" if name == "UpdateTopic" else "subscription"
        parsed = (ps.UpdateTopicRequest if kind == "topic" else ps.UpdateSubscriptionRequest).deserialize(request)
        paths = list(parsed.update_mask.paths)
        if "labels" not in paths:
            return self._relabel(method, self._upstream(method, request))
        resource = getattr(parsed, kind)
        rest = [p for p in paths if p != "labels"]
        if rest:
            parsed.update_mask.paths[:] = rest
            answer = self._upstream(method, type(parsed).serialize(parsed))
        else:  # only labels: check it exists (NOT_FOUND as Pub/Sub says it), then answer what it holds
            get = "GetTopic" if kind == "topic" else "GetSubscription"
            ask = (
                ps.GetTopicRequest(topic=resource.name)
                if kind == "topic"
                else ps.GetSubscriptionRequest(subscription=resource.name)
            )
            answer = self._upstream(method.rsplit("/", 1)[0] + "/" + get, type(ask).serialize(ask))
        with self.lock:
            self.labels[resource.name] = dict(resource.labels)
        return self._relabel(method, answer)

    def _relabel(self, method: str, answer: bytes) -> bytes:
        shape = _RESPONSES.get(method)
        if shape is None or not self.labels:
            return answer
        kind, items = shape
        message = kind.deserialize(answer)
        with self.lock:
            for item in items(message):
                if item.name in self.labels:
                    item.labels.clear()
                    item.labels.update(self.labels[item.name])
        return kind.serialize(message)


class PubSubEmulator:
    def __init__(self, address: str, proxy: PubSubProxy) -> None:
        self.address = address
        self.proxy = proxy

    def wipe(self, project: str) -> None:
        """Delete every topic and subscription of `project` (straight at the emulator: not counted)."""
        from google.pubsub_v1 import PublisherClient, SubscriberClient
        from google.pubsub_v1.services.publisher.transports.grpc import PublisherGrpcTransport
        from google.pubsub_v1.services.subscriber.transports.grpc import SubscriberGrpcTransport

        channel = self.proxy.channel
        publisher = PublisherClient(transport=PublisherGrpcTransport(channel=channel))
        subscriber = SubscriberClient(transport=SubscriberGrpcTransport(channel=channel))
        for subscription in subscriber.list_subscriptions(request={"project": f"projects/{project}"}):
            subscriber.delete_subscription(request={"subscription": subscription.name})
        for topic in publisher.list_topics(request={"project": f"projects/{project}"}):
            publisher.delete_topic(request={"topic": topic.name})
        with self.proxy.lock:
            self.proxy.labels.clear()
            self.proxy.calls.clear()
            self.proxy.delay = 0.0


@contextmanager
def pubsub_emulator() -> Iterator[PubSubEmulator]:
    """The emulator on a free port, and the proxy in front of it on another; yields the proxy's address."""
    port = _free_port()
    process = subprocess.Popen(
        [str(EMULATOR), "--host=127.0.0.1", f"--port={port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_for(process, port)
        proxy = PubSubProxy(f"127.0.0.1:{port}")
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        server.add_generic_rpc_handlers([proxy])
        served = server.add_insecure_port("127.0.0.1:0")
        server.start()
        try:
            yield PubSubEmulator(f"127.0.0.1:{served}", proxy)
        finally:
            server.stop(grace=None)
            proxy.channel.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for(process: subprocess.Popen[str], port: int) -> None:
    """Until the emulator says it listens, at most `STARTUP_SECONDS`; its output is read on a thread of its own (to the
    end, so it never blocks on a full pipe)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in process.stdout or ():
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + STARTUP_SECONDS
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise RuntimeError("the Pub/Sub emulator did not start:\n" + "".join(seen[-20:])) from None
        if line is None:
            raise RuntimeError("the Pub/Sub emulator exited:\n" + "".join(seen[-20:]))
        seen.append(line)
        if f"Server started, listening on {port}" in line:
            return
