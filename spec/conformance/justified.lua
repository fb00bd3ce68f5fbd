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
  { "^recv_peek call", "MSG_PEEK: synfin's RECEIVE has no peek and the facade does not fake one "
    .. "(spec/facade_spec.lua DIFFERS): EOPNOTSUPP, and the scenario reads what is left by read()" },
  { "^user_timeout seg#%d+ missing$", "the RTO floor: Linux's is 200 ms (TCP_RTO_MIN; tcp_set_rto), so it "
    .. "retransmits at 0.2, 0.4, 0.8 s; the linux profile keeps RFC 6298's 1 s for now, since most of "
    .. "synfin's specs assert that timing (core/profile.c). To fix (issue 16)" },
  { "^user_timeout call#%d+ blocked$", "TCP_USER_TIMEOUT is checked when a retransmission timer fires "
    .. "(tcp_retransmit_timer, tcp_clamp_rto_to_user_timeout), so Linux's write fails at its RTO after "
    .. "the 0.8 s; synfin ends the connection at 0.8 s exactly (RFC 9293 §3.10.8). Its earlier RTOs "
    .. "(200 ms floor) are to fix (issue 16)" },
  { "^recv_peek seg#%d+ missing$", "the ACK of the data read: Linux, past its quick-ACK start, may delay it "
    .. "(tcp_send_delayed_ack, 40 ms at least) beyond the scenario's end; synfin ACKs at once. To fix with "
    .. "the delayed-ACK pattern (issue 16)" },
  { "^read_eof seg#%d+ missing$", "the ACK of the peer's FIN: Linux delays it (tcp_fin enters pingpong "
    .. "mode: a delayed ACK, about 40 ms, in the hope of carrying the application's own FIN) and the "
    .. "scenario ends first; synfin ACKs a FIN at once. To fix with the delayed-ACK pattern (issue 16)" },
  { "seg#%d+ win$", "the receive window. Linux offers 64240 bytes (tcp_select_initial_window: 44 MSS of "
    .. "tcp_rmem's default) with a window scale of its own and then autotunes (tcp_rcv_space_adjust); "
    .. "synfin offers rcv_buf (65535) unscaled. To fix: a linux receive-window policy (issue 16)" },
  { "seg#%d+ opts$", "the SYN's window scale: Linux's shift follows tcp_rmem's maximum (ws=7 to 10), synfin's "
    .. "its rcv_buf (0 for 65535). To fix with the receive window (issue 16)" },
}
