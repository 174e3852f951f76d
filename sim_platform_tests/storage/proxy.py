"""A tiny threaded TCP proxy on loopback that damages traffic on purpose.

Put between the SDK and Azurite to test what a real network failure does to a sync:

* `fault="cut"`: after `after` bytes have flowed in `direction` on one connection, the connection
  is shut down in both directions, i.e. it dies mid-transfer;
* `fault="stall"`: after `after` bytes in `direction` the connection stops forwarding (and stays
  open) until the proxy is closed, i.e. the transfer hangs, so a test can kill the process mid-way;
* `fault="flip"`: every `after`-th byte (in `direction`) is inverted and the stream carries on,
  i.e. silent corruption in transit that only a checksum can catch (repeating, so a kept-alive
  connection corrupts every response long enough, not only its first one).

`budget` limits how many faults are injected (None = no limit), so a test can model "the first
attempt fails, the retry succeeds" as well as "the network is broken for this whole run".
"""

from __future__ import annotations

import socket
import threading


class FaultyProxy:
    def __init__(
        self,
        upstream_port: int,
        *,
        fault: str = "cut",
        direction: str = "down",
        after: int = 64 * 1024,
        budget: int | None = None,
    ) -> None:
        assert fault in ("cut", "flip", "stall") and direction in ("up", "down")
        self.upstream_port = upstream_port
        self.fault, self.direction, self.after = fault, direction, after
        self.budget = budget
        self.faults_injected = 0
        self.connections = 0
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._closed = False
        self._released = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    def start(self) -> FaultyProxy:
        self._thread.start()
        return self

    def endpoint(self, account: str) -> str:
        return f"http://127.0.0.1:{self.port}/{account}"

    def disarm(self) -> None:
        """From now on forward faithfully."""
        with self._lock:
            self.budget = 0

    def close(self) -> None:
        self._closed = True
        self._released.set()
        try:
            self._listener.close()
        except OSError:
            pass

    def _take_fault(self) -> bool:
        with self._lock:
            if self.budget is not None and self.budget <= 0:
                return False
            if self.budget is not None:
                self.budget -= 1
            self.faults_injected += 1
            return True

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self.connections += 1
            state = {"dead": False}
            up = threading.Thread(target=self._pump, args=(client, upstream, "up", state), daemon=True)
            down = threading.Thread(target=self._pump, args=(upstream, client, "down", state), daemon=True)
            up.start()
            down.start()

    @staticmethod
    def _kill(*socks: socket.socket) -> None:
        """Shut both sockets down now. shutdown() (unlike close()) also wakes the other pump thread
        blocked in recv() on them, so the client sees the connection end at once, not at its timeout."""
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str, state: dict) -> None:
        seen = 0
        next_fault = self.after if direction == self.direction else None
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                while next_fault is not None and seen <= next_fault < seen + len(data):
                    offset = next_fault - seen
                    next_fault += self.after
                    if not self._take_fault():
                        continue
                    if self.fault == "stall":
                        dst.sendall(data[:offset])
                        self._released.wait()
                        state["dead"] = True
                        self._kill(src, dst)
                        return
                    if self.fault == "cut":
                        dst.sendall(data[:offset])
                        state["dead"] = True
                        self._kill(src, dst)
                        return
                    flipped = bytearray(data)
                    flipped[offset] ^= 0xFF
                    data = bytes(flipped)
                seen += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            if not state["dead"]:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
            with self._lock:
                state["finished"] = state.get("finished", 0) + 1
                last = state["finished"] == 2
            if last:
                for sock in (src, dst):
                    try:
                        sock.close()
                    except OSError:
                        pass
