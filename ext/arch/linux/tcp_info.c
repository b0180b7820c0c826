/* The pure decoders of a TCP connection's quality attributes: struct
 * tcp_info (INET_DIAG_INFO), the congestion control's name (INET_DIAG_CONG)
 * and the socket memory counters (INET_DIAG_SKMEMINFO).  No system calls and
 * nothing called back: diag.c hands each attribute's payload over, and the
 * fuzz harness and the native era test call these with any bytes.
 *
 * struct tcp_info only ever grew at its end, and each kernel sends its own
 * sizeof: a field is read when the attribute reaches the field's end, and is
 * absent (None to Python) otherwise; a longer attribute from a newer kernel
 * carries fields this table does not name, which are ignored.  The offsets
 * are written here, not taken from <linux/tcp.h>: a build machine's header
 * may be older (manylinux's) than the fields the kernel sends
 * (tests/native/tcp_info_lengths.c checks them against a current header). */
#include <string.h>

#include "backend.h"

/* Where each field of struct tcp_info is (bytes), and the first Linux
 * release whose struct ends past it (the attribute length of each era:
 * 104 before 3.15, 120 in 3.15, 136 in 4.1, 144 in 4.2, 160 in 4.6, 168 in
 * 4.9, 192 in 4.10, 200 in 4.18, 224 in 4.19, 232 in 5.4, 240 in 6.2, ...). */
static const struct {
    uint8_t field; /* TT_INFO_* */
    uint8_t size;  /* 1, 4 or 8 */
    uint16_t offset;
} TCP_INFO_LAYOUT[] = {
    {TT_INFO_CA_STATE, 1, 1},           /* tcpi_ca_state */
    {TT_INFO_RETRANSMITS, 1, 2},        /* tcpi_retransmits */
    {TT_INFO_RTO_US, 4, 8},             /* tcpi_rto */
    {TT_INFO_ATO_US, 4, 12},            /* tcpi_ato */
    {TT_INFO_SND_MSS, 4, 16},           /* tcpi_snd_mss */
    {TT_INFO_RCV_MSS, 4, 20},           /* tcpi_rcv_mss */
    {TT_INFO_UNACKED, 4, 24},           /* tcpi_unacked */
    {TT_INFO_SACKED, 4, 28},            /* tcpi_sacked */
    {TT_INFO_LOST, 4, 32},              /* tcpi_lost */
    {TT_INFO_LAST_DATA_SENT_MS, 4, 44}, /* tcpi_last_data_sent */
    {TT_INFO_LAST_DATA_RECV_MS, 4, 52}, /* tcpi_last_data_recv */
    {TT_INFO_LAST_ACK_RECV_MS, 4, 56},  /* tcpi_last_ack_recv */
    {TT_INFO_RTT_US, 4, 68},            /* tcpi_rtt */
    {TT_INFO_RTTVAR_US, 4, 72},         /* tcpi_rttvar */
    {TT_INFO_SND_SSTHRESH, 4, 76},      /* tcpi_snd_ssthresh */
    {TT_INFO_SND_CWND, 4, 80},          /* tcpi_snd_cwnd */
    {TT_INFO_REORDERING, 4, 88},        /* tcpi_reordering */
    {TT_INFO_RCV_SPACE, 4, 96},         /* tcpi_rcv_space */
    {TT_INFO_TOTAL_RETRANS, 4, 100},    /* tcpi_total_retrans: 104 bytes end here */
    {TT_INFO_PACING_RATE, 8, 104},      /* 3.15 */
    {TT_INFO_BYTES_ACKED, 8, 120},      /* 4.1 */
    {TT_INFO_BYTES_RECEIVED, 8, 128},   /* 4.1 */
    {TT_INFO_SEGS_OUT, 4, 136},         /* 4.2 */
    {TT_INFO_SEGS_IN, 4, 140},          /* 4.2 */
    {TT_INFO_NOTSENT_BYTES, 4, 144},    /* 4.6 */
    {TT_INFO_MIN_RTT_US, 4, 148},       /* 4.6 */
    {TT_INFO_DATA_SEGS_IN, 4, 152},     /* 4.6 */
    {TT_INFO_DATA_SEGS_OUT, 4, 156},    /* 4.6 */
    {TT_INFO_DELIVERY_RATE, 8, 160},    /* 4.9 */
    {TT_INFO_BUSY_TIME_US, 8, 168},     /* 4.10 */
    {TT_INFO_RWND_LIMITED_US, 8, 176},  /* 4.10 */
    {TT_INFO_SNDBUF_LIMITED_US, 8, 184}, /* 4.10 */
    {TT_INFO_BYTES_SENT, 8, 200},       /* 4.19 */
    {TT_INFO_BYTES_RETRANS, 8, 208},    /* 4.19 */
};

void
tt_tcp_info_decode(const uint8_t *info, size_t len, tt_tcp_info *out)
{
    for (size_t i = 0; i < sizeof(TCP_INFO_LAYOUT) / sizeof(TCP_INFO_LAYOUT[0]); i++) {
        size_t offset = TCP_INFO_LAYOUT[i].offset, size = TCP_INFO_LAYOUT[i].size;
        uint64_t value;

        if (offset + size > len)
            continue;
        if (size == 1)
            value = info[offset];
        else if (size == 4) {
            uint32_t v32;
            memcpy(&v32, info + offset, sizeof(v32));
            value = v32;
        }
        else
            memcpy(&value, info + offset, sizeof(value));
        out->value[TCP_INFO_LAYOUT[i].field] = value;
        out->has |= (uint64_t)1 << TCP_INFO_LAYOUT[i].field;
    }
}

void
tt_tcp_info_congestion(const uint8_t *name, size_t len, tt_tcp_info *out)
{
    size_t n = 0;

    /* At most 15 printable ASCII characters, up to a NUL or the end of the
     * attribute; anything else (empty, too long, other bytes) is no name. */
    for (; n < len && name[n] != '\0'; n++)
        if (n == TT_CONGESTION_MAX - 1 || name[n] <= 0x20 || name[n] >= 0x7f)
            return;
    if (n == 0)
        return;
    memcpy(out->congestion, name, n);
    out->congestion[n] = '\0';
    out->has |= (uint64_t)1 << TT_INFO_CONGESTION;
}

/* SK_MEMINFO_* indexes (linux/sock_diag.h): u32 values, as many as the
 * kernel knows (drops since 4.7). */
static const struct {
    uint8_t field, index;
} MEMINFO_LAYOUT[] = {
    {TT_INFO_RMEM_ALLOC, 0}, /* SK_MEMINFO_RMEM_ALLOC */
    {TT_INFO_RCVBUF, 1},     /* SK_MEMINFO_RCVBUF */
    {TT_INFO_WMEM_ALLOC, 2}, /* SK_MEMINFO_WMEM_ALLOC */
    {TT_INFO_SNDBUF, 3},     /* SK_MEMINFO_SNDBUF */
    {TT_INFO_DROPS, TT_SK_MEMINFO_DROPS},
};

void
tt_tcp_info_meminfo(const uint8_t *mem, size_t len, tt_tcp_info *out)
{
    for (size_t i = 0; i < sizeof(MEMINFO_LAYOUT) / sizeof(MEMINFO_LAYOUT[0]); i++) {
        size_t offset = (size_t)MEMINFO_LAYOUT[i].index * sizeof(uint32_t);
        uint32_t v;

        if (offset + sizeof(v) > len)
            continue;
        memcpy(&v, mem + offset, sizeof(v));
        out->value[MEMINFO_LAYOUT[i].field] = v;
        out->has |= (uint64_t)1 << MEMINFO_LAYOUT[i].field;
    }
}
