/* Who serves a store (see serving.h). Three sources, each telling only what it knows:
 * the nodes listing of the store (every process sharing it, with its handlers, in
 * cluster mode), the daemon's wakeup socket on this host, and for SQLite the kernel's
 * table of file locks, which names every process on this host that has the file
 * open, whoever it belongs to. */
#include "cli/serving.h"
#include "cli/output.h"
#include "cli/wakeup.h"

#include <jansson.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int serving_sqlite_holders(const char *dsn)
{
    char path[PATH_MAX];
    struct stat st;
    if (!wakeup_sqlite_path(dsn, path, sizeof path) || stat(path, &st) != 0) return -1;
    FILE *f = fopen("/proc/locks", "r");
    if (!f) return -1;
    /* "1: POSIX  ADVISORY  READ 6915 fe:00:10953636 1073741826 1073742335"; a waiter's
     * line has "->" after the number. */
    char line[256];
    int holders = 0;
    long self = (long)getpid();
    while (fgets(line, sizeof line, f)) {
        char kind[16], mode[16], access[16];
        long pid;
        unsigned maj, min;
        unsigned long long ino;
        if (strstr(line, "->")) continue;
        if (sscanf(line, "%*d: %15s %15s %15s %ld %x:%x:%llu", kind, mode, access, &pid, &maj, &min,
                   &ino) != 7)
            continue;
        if (ino != (unsigned long long)st.st_ino || maj != major(st.st_dev) ||
            min != minor(st.st_dev))
            continue;
        if (pid != self) holders++; /* an OFD lock shows pid -1: counted, not ours */
    }
    fclose(f);
    return holders;
}

static bool node_is_self(const tasker_node *n)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    return n->pid == (int64_t)getpid() && n->host && strcmp(n->host, host) == 0;
}

/* The library's judgement: not stopped, and beating within its lease (store clock). */
static bool node_live(const tasker_node *n)
{
    return n->alive && !n->stopped_us;
}

static bool node_has(const tasker_node *n, const char *handler)
{
    json_t *a = n->handlers ? json_loads(n->handlers, 0, NULL) : NULL;
    bool found = false;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) if (json_is_string(v) && strcmp(json_string_value(v), handler) == 0)
        found = true;
    json_decref(a);
    return found;
}

void serving_read(serving *s, tasker_t *t, const char *dsn)
{
    memset(s, 0, sizeof *s);
    s->nodes_ok = tasker_list_nodes(t, &s->nodes, &s->nnodes) == TASKER_OK;
    for (size_t i = 0; s->nodes_ok && i < s->nnodes; i++)
        if (!node_is_self(&s->nodes[i]) && node_live(&s->nodes[i])) s->others_listed = true;
    s->daemon_listens = wakeup_probe(dsn);
    s->store_holders = serving_sqlite_holders(dsn);
}

void serving_free(serving *s)
{
    tasker_free_nodes(s->nodes, s->nnodes);
    memset(s, 0, sizeof *s);
}

serving_answer serving_handler(const serving *s, const char *handler)
{
    if (s->daemon_listens && strcmp(handler, "shell") == 0) return SERVING_YES;
    /* A SQLite file nobody else has open is served by nobody, whatever a nodes listing
     * still shows of processes that closed it a moment ago. */
    if (s->store_holders == 0) return SERVING_NO;
    for (size_t i = 0; s->nodes_ok && i < s->nnodes; i++)
        if (!node_is_self(&s->nodes[i]) && node_live(&s->nodes[i]) &&
            node_has(&s->nodes[i], handler))
            return SERVING_YES;
    /* A listing of other nodes is the store's full account (cluster mode): none of
     * them has it. */
    return s->others_listed ? SERVING_NO : SERVING_UNKNOWN;
}
