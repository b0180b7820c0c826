/* TcpInfo: one connection's quality figures (tcp6(info=True)), a structseq
 * of every TT_INFO_* field in that order; a field the OS did not send (an
 * older kernel's shorter struct tcp_info) is None, never 0. */
#include "glue.h"

/* Indexed by TT_INFO_*: the order of tcptable.h's enum is the tuple's. */
static PyStructSequence_Field info_fields[] = {
    [TT_INFO_RTT_US] = {"rtt_us", "smoothed round-trip time, us (tcpi_rtt)"},
    [TT_INFO_RTTVAR_US] = {"rttvar_us", "round-trip time variation, us (tcpi_rttvar)"},
    [TT_INFO_MIN_RTT_US] = {"min_rtt_us", "lowest round-trip time seen, us (Linux 4.6)"},
    [TT_INFO_RTO_US] = {"rto_us", "retransmission timeout, us (tcpi_rto)"},
    [TT_INFO_ATO_US] = {"ato_us", "delayed-ACK timeout, us (tcpi_ato)"},
    [TT_INFO_SND_MSS] = {"snd_mss", "send maximum segment size, bytes"},
    [TT_INFO_RCV_MSS] = {"rcv_mss", "receive segment size the peer seems to use, bytes"},
    [TT_INFO_SND_CWND] = {"snd_cwnd", "congestion window, segments"},
    [TT_INFO_SND_SSTHRESH] = {"snd_ssthresh",
                              "slow-start threshold, segments (2147483647: not set yet)"},
    [TT_INFO_RCV_SPACE] = {"rcv_space", "receive buffer space the window is tuned to, bytes"},
    [TT_INFO_RETRANSMITS] = {"retransmits", "retransmissions of the current segment in a row"},
    [TT_INFO_TOTAL_RETRANS] = {"total_retrans", "segments retransmitted over the connection"},
    [TT_INFO_LOST] = {"lost", "segments now thought lost"},
    [TT_INFO_UNACKED] = {"unacked", "segments sent and not yet acknowledged"},
    [TT_INFO_SACKED] = {"sacked", "segments selectively acknowledged (SACK)"},
    [TT_INFO_REORDERING] = {"reordering", "reordering the sender allows for, segments"},
    [TT_INFO_BYTES_ACKED] = {"bytes_acked", "bytes the peer acknowledged (Linux 4.1)"},
    [TT_INFO_BYTES_RECEIVED] = {"bytes_received", "bytes received in order (Linux 4.1)"},
    [TT_INFO_BYTES_SENT] = {"bytes_sent", "bytes sent, retransmissions included (Linux 4.19)"},
    [TT_INFO_BYTES_RETRANS] = {"bytes_retrans", "bytes retransmitted (Linux 4.19)"},
    [TT_INFO_SEGS_IN] = {"segs_in", "segments received (Linux 4.2)"},
    [TT_INFO_SEGS_OUT] = {"segs_out", "segments sent (Linux 4.2)"},
    [TT_INFO_DATA_SEGS_IN] = {"data_segs_in", "segments received with data (Linux 4.6)"},
    [TT_INFO_DATA_SEGS_OUT] = {"data_segs_out", "segments sent with data (Linux 4.6)"},
    [TT_INFO_DELIVERY_RATE] = {"delivery_rate", "recent delivery rate, bytes/s (Linux 4.9)"},
    [TT_INFO_PACING_RATE] = {"pacing_rate",
                             "pacing rate, bytes/s (2**64-1: unlimited; Linux 3.15)"},
    [TT_INFO_BUSY_TIME_US] = {"busy_time_us", "time busy sending data, us (Linux 4.10)"},
    [TT_INFO_RWND_LIMITED_US] = {"rwnd_limited_us",
                                 "time limited by the peer's window, us (Linux 4.10)"},
    [TT_INFO_SNDBUF_LIMITED_US] = {"sndbuf_limited_us",
                                   "time limited by the send buffer, us (Linux 4.10)"},
    [TT_INFO_NOTSENT_BYTES] = {"notsent_bytes", "bytes written, not yet sent (Linux 4.6)"},
    [TT_INFO_LAST_DATA_SENT_MS] = {"last_data_sent_ms", "ms since data was last sent"},
    [TT_INFO_LAST_DATA_RECV_MS] = {"last_data_recv_ms", "ms since data was last received"},
    [TT_INFO_LAST_ACK_RECV_MS] = {"last_ack_recv_ms", "ms since an ACK was last received"},
    [TT_INFO_CA_STATE] = {"ca_state",
                          "congestion state: 0 open, 1 disorder, 2 CWR, 3 recovery, 4 loss"},
    [TT_INFO_CONGESTION] = {"congestion", "the congestion control algorithm's name (str)"},
    [TT_INFO_RMEM_ALLOC] = {"rmem_alloc", "receive memory in use, bytes (SKMEMINFO)"},
    [TT_INFO_RCVBUF] = {"rcvbuf", "receive buffer size, bytes (SKMEMINFO)"},
    [TT_INFO_WMEM_ALLOC] = {"wmem_alloc", "send memory in use, bytes (SKMEMINFO)"},
    [TT_INFO_SNDBUF] = {"sndbuf", "send buffer size, bytes (SKMEMINFO)"},
    [TT_INFO_DROPS] = {"drops", "packets dropped on this socket (SKMEMINFO, Linux 4.7)"},
    [TT_INFO_COUNT] = {NULL, NULL},
};

static PyStructSequence_Desc info_desc = {
    "tcptable.TcpInfo",
    "One TCP connection's quality figures (tcp6(info=True)): ints in the units named, "
    "None for a figure the OS did not send.",
    info_fields,
    TT_INFO_COUNT,
};

_Static_assert(TT_INFO_COUNT <= 64, "tt_tcp_info.has holds a bit per field");

int
ttpy_add_info_type(PyObject *module, ttpy_state *st)
{
    if ((st->info_type = PyStructSequence_NewType(&info_desc)) == NULL)
        return -1;
    return PyModule_AddObjectRef(module, "TcpInfo", (PyObject *)st->info_type);
}

PyObject *
ttpy_info_object(ttpy_state *st, const tt_tcp_info *info,
                 PyObject *(*number)(void *ctx, uint64_t value), void *ctx)
{
    PyObject *result = PyStructSequence_New(st->info_type);

    if (result == NULL)
        return NULL;
    for (int i = 0; i < TT_INFO_COUNT; i++) {
        PyObject *value;
        if (!(info->has & ((uint64_t)1 << i)))
            value = Py_NewRef(Py_None);
        else if (i == TT_INFO_CONGESTION)
            value = PyUnicode_FromString(info->congestion); /* ASCII: tcp_info.c checked */
        else
            value = number(ctx, info->value[i]);
        if (value == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        PyStructSequence_SetItem(result, i, value);
    }
    return result;
}
