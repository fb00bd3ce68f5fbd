-- Why synfin's linux profile differs from the Linux kernel where it still
-- does (tools/differential.lua writes spec/conformance/differential.md):
-- a Lua pattern on a difference's key ("scenario seg#i field", "scenario
-- call#i field"), and the reason: why synfin differs, or "to fix" with the
-- issue. ctest's conformance/differential fails on a difference no pattern
-- here matches.
return {
  { "^shutdown_half_close seg#[789]", "the ACK of data received in FIN_WAIT_2: Linux, past its quick-ACK "
    .. "start, delays it (ATO, 40 ms at least: tcp_send_delayed_ack) and the peer's FIN, which comes at once, "
    .. "takes it along; synfin's linux profile ACKs at once (delayed_ack = 0: synfin has no quick-ACK mode). "
    .. "To fix: Linux's quick-ACK/delayed-ACK pattern as a policy (issue 16)" },
  { "^recv_peek seg#%d+ missing$", "the ACK of the data read: Linux, past its quick-ACK start, may delay it "
    .. "(tcp_send_delayed_ack, 40 ms at least) beyond the scenario's end; synfin ACKs at once. To fix with "
    .. "the delayed-ACK pattern (issue 16)" },
  { "^read_eof seg#%d+ missing$", "the ACK of the peer's FIN: Linux delays it (tcp_fin enters pingpong "
    .. "mode: a delayed ACK, about 40 ms, in the hope of carrying the application's own FIN) and the "
    .. "scenario ends first; synfin ACKs a FIN at once. To fix with the delayed-ACK pattern (issue 16)" },
  { "^sndbuf_blocking_write seg#5 flags$", "PSH on a segment that does not empty the send buffer: Linux's "
    .. "tcp_sendmsg marks one (forced_push) once more than half the peer's largest window (4000 bytes here) "
    .. "has been written since the last PSH; synfin sets PSH only on the segment that empties the send queue "
    .. "(RFC 9293 §3.9.1.2, MUST-61: the PSH bit in the last buffered segment)" },
  { "seg#%d+ win$", "the receive window. Linux offers 64240 bytes (tcp_select_initial_window: 44 MSS of "
    .. "tcp_rmem's default) with a window scale of its own and then autotunes (tcp_rcv_space_adjust); "
    .. "synfin offers rcv_buf (65535) unscaled. To fix: a linux receive-window policy (issue 16)" },
  { "seg#%d+ opts$", "the SYN's window scale: Linux's shift follows tcp_rmem's maximum (ws=7 to 10), synfin's "
    .. "its rcv_buf (0 for 65535). To fix with the receive window (issue 16)" },
}
