"""permessage-deflate (RFC 7692) for many mostly idle connections.

The negotiation is the library's; what changes is the sending side:

- The compressor of a connection is created on its first frame and dropped
  by :meth:`LeanDeflate.release` when the connection has been quiet for a
  while. A sender may always stop referring to earlier messages (the
  receiver keeps its window either way), so dropping the compressor and
  starting a fresh one later needs no negotiation and breaks nothing; it
  frees most of an idle connection's memory.
- :meth:`LeanDeflate.text_frame` builds a whole compressed text frame (the
  server's frames are never masked, never fragmented) in one step, for the
  fan-out path: one compression and one buffer per recipient, no framing
  objects.

The receiving side (the client's compressed frames) is unchanged: its
window must be kept as long as the client keeps its own context.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Frame

#: FIN + RSV1 (compressed) + opcode 1 (text).
_FIRST_BYTE = 0x80 | 0x40 | 0x1
_SHORT_HEADERS = tuple(bytes((_FIRST_BYTE, n)) for n in range(126))


class LeanDeflate(PerMessageDeflate):
    """The library's extension with a compressor that comes and goes."""

    def __init__(
        self,
        remote_no_context_takeover: bool,
        local_no_context_takeover: bool,
        remote_max_window_bits: int,
        local_max_window_bits: int,
        compress_settings: dict[str, Any] | None = None,
    ) -> None:
        # Told "no context takeover", the library allocates no compressor at
        # the handshake; the real setting is restored right after.
        super().__init__(
            remote_no_context_takeover,
            True,
            remote_max_window_bits,
            local_max_window_bits,
            compress_settings,
        )
        self.local_no_context_takeover = local_no_context_takeover

    @property
    def holds_compressor(self) -> bool:
        return hasattr(self, "encoder")

    def release(self) -> None:
        """Drop the compressor (and its history): the next frame starts afresh."""
        if hasattr(self, "encoder"):
            del self.encoder

    def _compressor(self) -> Any:
        encoder = getattr(self, "encoder", None)
        if encoder is None:
            encoder = zlib.compressobj(wbits=-self.local_max_window_bits, **self.compress_settings)
            if not self.local_no_context_takeover:
                self.encoder = encoder
        return encoder

    def encode(self, frame: Frame) -> Frame:
        if not self.local_no_context_takeover:
            self._compressor()
        return super().encode(frame)

    def text_frame(self, data: bytes) -> bytes:
        """The wire bytes of one compressed, final, unmasked text frame.

        This runs once per recipient of every event: one compression, one
        header from a table, one copy."""
        encoder = self.__dict__.get("encoder") or self._compressor()
        head = encoder.compress(data)
        tail = encoder.flush(zlib.Z_SYNC_FLUSH)
        payload = head + tail if head else tail
        size = len(payload) - 4  # the sync flush's empty block is not sent
        if size < 126:
            header = _SHORT_HEADERS[size]
        elif size < 65536:
            header = struct.pack("!BBH", _FIRST_BYTE, 126, size)
        else:
            header = struct.pack("!BBQ", _FIRST_BYTE, 127, size)
        return header + memoryview(payload)[:size]


class LeanDeflateFactory(ServerPerMessageDeflateFactory):
    """Negotiates like the library, then hands out :class:`LeanDeflate`."""

    def process_request_params(
        self, params: Any, accepted_extensions: Any
    ) -> tuple[list[tuple[str, str | None]], PerMessageDeflate]:
        response, ext = super().process_request_params(params, accepted_extensions)
        assert isinstance(ext, PerMessageDeflate)
        lean = LeanDeflate(
            ext.remote_no_context_takeover,
            ext.local_no_context_takeover,
            ext.remote_max_window_bits,
            ext.local_max_window_bits,
            ext.compress_settings,
        )
        return response, lean


def lean_deflate(
    window_bits: int, client_window_bits: int, mem_level: int, level: int = 6
) -> LeanDeflateFactory:
    """permessage-deflate with context takeover (what makes small frames small),
    with windows and a memory level chosen for many idle connections."""
    return LeanDeflateFactory(
        server_max_window_bits=window_bits,
        client_max_window_bits=client_window_bits,
        compress_settings={"memLevel": mem_level, "level": level},
    )
