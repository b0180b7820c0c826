/* The tcp_info decoder at any attribute length, for test_tcp_info_lengths.py.
 *
 *   tcp_info_lengths offsets       each field of <linux/tcp.h>'s struct tcp_info
 *                                  that TcpInfo reads: "name offset size"
 *   tcp_info_lengths info LEN...   decodes an INET_DIAG_INFO of each length
 *   tcp_info_lengths mem LEN...    an INET_DIAG_SKMEMINFO of each length
 *   tcp_info_lengths cong TEXT...  an INET_DIAG_CONG holding TEXT (no NUL)
 *
 * Each payload is an exact-size heap copy (ASan sees any read past it) whose
 * byte i is i & 0xff.  For each, one line: the length, then per TT_INFO_*
 * field in order its value in decimal or "-" when absent (congestion: its
 * text).  The test compares against its own table of offsets, which
 * "offsets" checks against this machine's header. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/tcp.h>

#include "arch/linux/backend.h"

#define MEMBER(name, member)                                                             \
    printf("%s %zu %zu\n", name, offsetof(struct tcp_info, member),                      \
           sizeof(((struct tcp_info *)0)->member))

static void
print_offsets(void)
{
    MEMBER("ca_state", tcpi_ca_state);
    MEMBER("retransmits", tcpi_retransmits);
    MEMBER("rto_us", tcpi_rto);
    MEMBER("ato_us", tcpi_ato);
    MEMBER("snd_mss", tcpi_snd_mss);
    MEMBER("rcv_mss", tcpi_rcv_mss);
    MEMBER("unacked", tcpi_unacked);
    MEMBER("sacked", tcpi_sacked);
    MEMBER("lost", tcpi_lost);
    MEMBER("last_data_sent_ms", tcpi_last_data_sent);
    MEMBER("last_data_recv_ms", tcpi_last_data_recv);
    MEMBER("last_ack_recv_ms", tcpi_last_ack_recv);
    MEMBER("rtt_us", tcpi_rtt);
    MEMBER("rttvar_us", tcpi_rttvar);
    MEMBER("snd_ssthresh", tcpi_snd_ssthresh);
    MEMBER("snd_cwnd", tcpi_snd_cwnd);
    MEMBER("reordering", tcpi_reordering);
    MEMBER("rcv_space", tcpi_rcv_space);
    MEMBER("total_retrans", tcpi_total_retrans);
    MEMBER("pacing_rate", tcpi_pacing_rate);
    MEMBER("bytes_acked", tcpi_bytes_acked);
    MEMBER("bytes_received", tcpi_bytes_received);
    MEMBER("segs_out", tcpi_segs_out);
    MEMBER("segs_in", tcpi_segs_in);
    MEMBER("notsent_bytes", tcpi_notsent_bytes);
    MEMBER("min_rtt_us", tcpi_min_rtt);
    MEMBER("data_segs_in", tcpi_data_segs_in);
    MEMBER("data_segs_out", tcpi_data_segs_out);
    MEMBER("delivery_rate", tcpi_delivery_rate);
    MEMBER("busy_time_us", tcpi_busy_time);
    MEMBER("rwnd_limited_us", tcpi_rwnd_limited);
    MEMBER("sndbuf_limited_us", tcpi_sndbuf_limited);
    MEMBER("bytes_sent", tcpi_bytes_sent);
    MEMBER("bytes_retrans", tcpi_bytes_retrans);
    printf("sizeof %zu 0\n", sizeof(struct tcp_info));
}

static void
print_info(size_t len, const tt_tcp_info *info)
{
    printf("%zu", len);
    for (int i = 0; i < TT_INFO_COUNT; i++) {
        if (!(info->has & ((uint64_t)1 << i)))
            printf(" -");
        else if (i == TT_INFO_CONGESTION)
            printf(" %s", info->congestion);
        else
            printf(" %llu", (unsigned long long)info->value[i]);
    }
    printf("\n");
}

int
main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (strcmp(argv[1], "offsets") == 0) {
        print_offsets();
        return 0;
    }
    for (int a = 2; a < argc; a++) {
        int cong = strcmp(argv[1], "cong") == 0;
        size_t len = cong ? strlen(argv[a]) : (size_t)strtoul(argv[a], NULL, 10);
        uint8_t *payload = malloc(len ? len : 1);
        tt_tcp_info info;

        if (payload == NULL)
            return 1;
        memset(&info, 0, sizeof(info));
        for (size_t i = 0; i < len; i++)
            payload[i] = cong ? (uint8_t)argv[a][i] : (uint8_t)i;
        if (strcmp(argv[1], "info") == 0)
            tt_tcp_info_decode(payload, len, &info);
        else if (strcmp(argv[1], "mem") == 0)
            tt_tcp_info_meminfo(payload, len, &info);
        else if (cong)
            tt_tcp_info_congestion(payload, len, &info);
        else
            return 2;
        print_info(len, &info);
        free(payload);
    }
    return 0;
}
