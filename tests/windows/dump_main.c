/* tcptable_dump.exe: the Windows backend of the wheel, driven from the command
 * line so tests can run it under Wine and compare with the sockets they made.
 *
 *   tcptable_dump.exe 6|4 [--udp] [--sort] [--pids] [--state N]... [--until FILE]
 *                     [--stats]
 *
 * prints one JSON object per row of the TCP table (--udp: the UDP table;
 * with --pids, from the tables with owners, each row's "pid" where one is
 * reported).  --until FILE polls again and again until
 * FILE exists (a churn test creates it); --stats adds, after every poll, a line
 * {"poll": i, "rows": n, "calls": c, "insufficient_buffer": a,
 * "unsuccessful": b, "out_of_memory": m}: the table calls the sizing loop
 * made, and how many failed with each code it calls again on.  A failure
 * prints one line on stderr and exits 1; bad usage exits 2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/windows/backend.h" /* winsock2.h, which must precede windows.h */
#include <windows.h>

typedef struct {
    int protocol;
    int family;
    int sort;
    int stats;
    int pids;
    tt_state_set states;
    const char *until;
} options;

static int
usage(const char *why)
{
    fprintf(stderr, "tcptable_dump: %s\n"
            "usage: tcptable_dump 6|4 [--udp] [--sort] [--pids] [--state N]... "
            "[--until FILE] [--stats]\n",
            why);
    return 2;
}

static int
parse(int argc, char **argv, options *opt)
{
    tt_state_set picked = 0;

    if (argc < 2 || (strcmp(argv[1], "6") != 0 && strcmp(argv[1], "4") != 0))
        return usage("the first argument must be 6 or 4");
    opt->family = argv[1][0] == '6' ? AF_INET6 : AF_INET;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--sort") == 0) {
            opt->sort = 1;
        }
        else if (strcmp(argv[i], "--udp") == 0) {
            opt->protocol = IPPROTO_UDP;
        }
        else if (strcmp(argv[i], "--stats") == 0) {
            opt->stats = 1;
        }
        else if (strcmp(argv[i], "--pids") == 0) {
            opt->pids = 1;
        }
        else if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
            char *end;
            long s = strtol(argv[++i], &end, 10);
            if (*end != '\0' || s < 1 || s > TT_STATE_MAX)
                return usage("--state takes a MIB state number, 1 to 12");
            picked |= (tt_state_set)(1u << s);
        }
        else if (strcmp(argv[i], "--until") == 0 && i + 1 < argc) {
            opt->until = argv[++i];
        }
        else {
            return usage("unknown argument");
        }
    }
    opt->states = picked ? picked : TT_ALL_STATES;
    return 0;
}

static void
print_row(int family, const tt_row *r)
{
    char local[TT_ADDRSTRLEN], remote[TT_ADDRSTRLEN];

    tt_format_addr(family, r->local_addr, local);
    tt_format_addr(family, r->remote_addr, remote);
    printf("{\"state\": %u, \"local_addr\": \"%s\", \"local_port\": %u, "
           "\"remote_addr\": \"%s\", \"remote_port\": %u",
           r->state, local, r->local_port, remote, r->remote_port);
    if (family == AF_INET6)
        printf(", \"local_scope_id\": %lu, \"remote_scope_id\": %lu",
               (unsigned long)r->local_scope_id, (unsigned long)r->remote_scope_id);
    if (r->has & TT_HAS_PID)
        printf(", \"pid\": %lu", (unsigned long)r->pid);
    printf("}\n");
}

static int
poll_once(const options *opt, unsigned long poll)
{
    tt_query q = {.protocol = opt->protocol,
                  .family = opt->family,
                  .states = opt->states,
                  .want = opt->pids ? TT_WANT_OWNERS : 0};
    tt_rows rows = {0};
    tt_error err = {0};
    tt_win_calls calls;

    if (tt_windows_dump(&q, &rows, &err, &calls) < 0 ||
        (opt->sort && tt_rows_sort(&rows, &err) < 0)) {
        tt_rows_free(&rows);
        fprintf(stderr, "tcptable_dump: %s failed: error %ld (kind %d) after %u calls\n",
                err.step, err.code, (int)err.kind, calls.calls);
        return -1;
    }
    for (size_t i = 0; i < rows.len; i++)
        print_row(opt->family, &rows.rows[i]);
    if (opt->stats)
        printf("{\"poll\": %lu, \"rows\": %lu, \"calls\": %u, \"insufficient_buffer\": %u, "
               "\"unsuccessful\": %u, \"out_of_memory\": %u}\n",
               poll, (unsigned long)rows.len, calls.calls, calls.insufficient_buffer,
               calls.unsuccessful, calls.out_of_memory);
    tt_rows_free(&rows);
    return fflush(stdout) == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
    options opt = {IPPROTO_TCP, 0, 0, 0, 0, 0, NULL};
    unsigned long poll = 0;

    if (parse(argc, argv, &opt) != 0)
        return 2;
    do {
        if (poll_once(&opt, poll++) < 0)
            return 1;
    } while (opt.until != NULL && GetFileAttributesA(opt.until) == INVALID_FILE_ATTRIBUTES);
    return 0;
}
