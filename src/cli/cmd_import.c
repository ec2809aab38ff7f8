/* `tasker import FILE` and `tasker export`: tasks and schedules as one JSON document
 * {"tasks": [...], "schedules": [...]} or as JSON lines (one task or schedule per line;
 * a line with "cron" is a schedule), so that a store can be moved or kept in git.
 * Import is one tasker_define call: all or nothing. Export writes what import reads,
 * sorted by id, without the stores' own ids (schedule ids, fire times). */
#include "cli/cli.h"
#include "cli/output.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char import_help[] =
    "usage: tasker import FILE|-\n"
    "\n"
    "Adds the tasks and schedules of FILE (- = standard input) in one write: all or\n"
    "nothing, the message naming the first bad item. FILE is a JSON document\n"
    "  {\"tasks\": [TASK, ...], \"schedules\": [SCHEDULE, ...]}\n"
    "or JSON lines, one TASK or SCHEDULE per line (a line with \"cron\" is a schedule).\n"
    "  TASK      {\"id\": ID, \"handler\": NAME, \"param\": JSON, \"desc\": TEXT,\n"
    "             \"max_execs\": N, \"max_exec_age_s\": N}   (id and handler required)\n"
    "  SCHEDULE  {\"task\": ID, \"cron\": EXPR, \"misfire\": once|skip|all,\n"
    "             \"overlap\": allow|forbid}                (task and cron required)\n"
    "An existing task is replaced; a schedule of the same task and expression as a\n"
    "stored one updates its policies. `tasker export` writes this format.\n";

static const char export_help[] =
    "usage: tasker export [--lines]\n"
    "\n"
    "Prints every task and schedule as the JSON document `tasker import` reads, sorted\n"
    "by id (stable for git). --lines: JSON lines instead, tasks first.\n";

typedef struct {
    tasker_task_def *tv;
    tasker_schedule_def *sv;
    size_t nt, ns, cap_t, cap_s;
    json_t *keep; /* the parsed items: they own the strings tv and sv point at */
    char **params; /* compact param texts, owned */
} defs;

static void defs_free(defs *d)
{
    for (size_t i = 0; i < d->nt; i++) free(d->params[i]);
    free(d->params);
    free(d->tv);
    free(d->sv);
    json_decref(d->keep);
}

/* A string member, or NULL; *bad set when present and not a string. */
static const char *member_str(json_t *o, const char *key, bool *bad)
{
    json_t *v = json_object_get(o, key);
    if (v && !json_is_string(v) && !json_is_null(v)) *bad = true;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int add_task(defs *d, json_t *o, const char *where)
{
    bool bad = false;
    const char *id = member_str(o, "id", &bad), *handler = member_str(o, "handler", &bad);
    const char *desc = member_str(o, "desc", &bad);
    json_t *me = json_object_get(o, "max_execs"), *ma = json_object_get(o, "max_exec_age_s");
    if (bad || !id || !handler || (me && !json_is_integer(me)) || (ma && !json_is_integer(ma))) {
        cli_errorf("import: %s: a task needs string \"id\" and \"handler\" (\"desc\" a string, "
                   "\"max_execs\" and \"max_exec_age_s\" integers)", where);
        return CLI_USAGE;
    }
    if (d->nt == d->cap_t) {
        size_t cap = d->cap_t ? d->cap_t * 2 : 64;
        tasker_task_def *tv = realloc(d->tv, cap * sizeof *tv);
        if (tv) d->tv = tv;
        char **pv = tv ? realloc(d->params, cap * sizeof *pv) : NULL;
        if (pv) d->params = pv;
        if (!tv || !pv) return CLI_FAIL;
        d->cap_t = cap;
    }
    json_t *param = json_object_get(o, "param");
    char *text = param ? json_dumps(param, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (param && !text) return CLI_FAIL;
    d->params[d->nt] = text;
    d->tv[d->nt++] = (tasker_task_def){
        .task_id = id, .handler = handler, .param_json = text,
        .opts = {.desc = desc, .max_execs = me ? (int)json_integer_value(me) : 0,
                 .max_exec_age_s = ma ? (int64_t)json_integer_value(ma) : 0}};
    return CLI_OK;
}

static int add_schedule(defs *d, json_t *o, const char *where)
{
    bool bad = false;
    const char *task = member_str(o, "task", &bad), *cron = member_str(o, "cron", &bad);
    const char *mis = member_str(o, "misfire", &bad), *ovl = member_str(o, "overlap", &bad);
    tasker_schedule_opts opt = {0};
    bool known_m = !mis, known_o = !ovl;
    for (int m = TASKER_MISFIRE_ONCE; mis && m <= TASKER_MISFIRE_ALL; m++)
        if (strcmp(mis, tasker_misfire_name((tasker_misfire)m)) == 0) {
            opt.misfire = (tasker_misfire)m;
            known_m = true;
        }
    for (int v = TASKER_OVERLAP_ALLOW; ovl && v <= TASKER_OVERLAP_FORBID; v++)
        if (strcmp(ovl, tasker_overlap_name((tasker_overlap)v)) == 0) {
            opt.overlap = (tasker_overlap)v;
            known_o = true;
        }
    if (bad || !task || !cron || !known_m || !known_o) {
        cli_errorf("import: %s: a schedule needs string \"task\" and \"cron\" (\"misfire\" "
                   "once, skip or all; \"overlap\" allow or forbid)", where);
        return CLI_USAGE;
    }
    if (d->ns == d->cap_s) {
        size_t cap = d->cap_s ? d->cap_s * 2 : 64;
        tasker_schedule_def *sv = realloc(d->sv, cap * sizeof *sv);
        if (!sv) return CLI_FAIL;
        d->sv = sv;
        d->cap_s = cap;
    }
    d->sv[d->ns++] = (tasker_schedule_def){.task_id = task, .cron = cron, .opts = opt};
    return CLI_OK;
}

static int add_array(defs *d, json_t *doc, const char *key, bool tasks)
{
    json_t *arr = json_object_get(doc, key);
    if (!arr) return CLI_OK;
    if (!json_is_array(arr)) {
        cli_errorf("import: \"%s\" is not an array", key);
        return CLI_USAGE;
    }
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        char where[64];
        snprintf(where, sizeof where, "%s[%zu]", key, i);
        int rc = !json_is_object(o) ? (cli_errorf("import: %s: not an object", where), CLI_USAGE)
                 : tasks           ? add_task(d, o, where)
                                   : add_schedule(d, o, where);
        if (rc) return rc;
    }
    return CLI_OK;
}

/* JSON lines: each non-blank line one object, kept in d->keep (an array). */
static int read_lines(defs *d, const char *text)
{
    d->keep = json_array();
    if (!d->keep) return CLI_FAIL;
    size_t line = 0;
    for (const char *p = text; *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        line++;
        size_t k = 0;
        while (k < len && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r')) k++;
        if (k < len) {
            json_error_t err;
            json_t *o = json_loadb(p, len, 0, &err);
            char where[48];
            snprintf(where, sizeof where, "line %zu", line);
            if (!o || !json_is_object(o)) {
                cli_errorf("import: line %zu: %s", line, o ? "not an object" : err.text);
                json_decref(o);
                return CLI_USAGE;
            }
            json_array_append_new(d->keep, o);
            int rc = json_object_get(o, "cron") ? add_schedule(d, o, where) : add_task(d, o, where);
            if (rc) return rc;
        }
        p += len + (end ? 1 : 0);
    }
    return CLI_OK;
}

static char *read_all(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) return NULL;
    size_t n = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - 1 - n, f);
        if (n < cap - 1) break;
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    bool failed = ferror(f);
    if (f != stdin) fclose(f);
    if (failed) {
        free(buf);
        return NULL;
    }
    if (buf) buf[n] = '\0';
    return buf;
}

static int parse_input(defs *d, const char *text)
{
    json_error_t err;
    json_t *doc = json_loads(text, JSON_DISABLE_EOF_CHECK, &err);
    /* One document with "tasks" or "schedules" and nothing after it; else lines. */
    if (doc && json_is_object(doc) &&
        (json_object_get(doc, "tasks") || json_object_get(doc, "schedules")) &&
        strspn(text + err.position, " \t\r\n") == strlen(text + err.position)) {
        d->keep = doc;
        int rc = add_array(d, doc, "tasks", true);
        return rc ? rc : add_array(d, doc, "schedules", false);
    }
    json_decref(doc);
    return read_lines(d, text);
}

int cmd_import(cli_global *g, int argc, char **argv)
{
    static const struct option options[] = {CLI_GLOBAL_OPTIONS, {0}};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1)
        if (!cli_global_option(g, c, optarg)) return cli_bad_option("import", c, argv);
    if (g->help) return cli_help(import_help);
    if (optind + 1 != argc) return cli_usage_error("import", "import: expected one FILE (or -)");
    char *text = read_all(argv[optind]);
    if (!text) {
        cli_errorf("import: cannot read '%s'", argv[optind]);
        return CLI_FAIL;
    }
    defs d = {0};
    int rc = parse_input(&d, text);
    tasker_t *t = rc == CLI_OK ? cli_open(g, -1) : NULL;
    if (rc == CLI_OK && !t) rc = CLI_FAIL;
    if (t) {
        int err = tasker_define(t, d.tv, d.nt, d.sv, d.ns);
        if (err != TASKER_OK) rc = cli_lib_error(err, "import");
        else if (g->json)
            rc = out_json(json_pack("{s:I, s:I}", "tasks", (json_int_t)d.nt, "schedules",
                                    (json_int_t)d.ns));
        else
            printf("imported %zu tasks and %zu schedules\n", d.nt, d.ns);
        tasker_close(t);
    }
    defs_free(&d);
    free(text);
    return rc;
}

/* ---- export ---- */

static json_t *export_task(const tasker_task *k)
{
    json_t *o = json_pack("{s:o, s:o, s:o}", "id", json_text(k->task_id), "handler",
                          json_text(k->handler), "param", json_from_text(k->param));
    if (o && k->desc) json_object_set_new(o, "desc", json_text(k->desc));
    if (o && k->max_execs) json_object_set_new(o, "max_execs", json_integer(k->max_execs));
    if (o && k->max_exec_age_s)
        json_object_set_new(o, "max_exec_age_s", json_integer(k->max_exec_age_s));
    return o;
}

static json_t *export_schedule(const tasker_task_scheme *s)
{
    return json_pack("{s:o, s:o, s:s, s:s}", "task", json_text(s->task_id), "cron",
                     json_text(s->cron), "misfire", tasker_misfire_name(s->misfire), "overlap",
                     tasker_overlap_name(s->overlap));
}

/* Schedules by task, then expression: the order does not depend on generated ids. */
static int cmp_scheme(const void *a, const void *b)
{
    const tasker_task_scheme *x = a, *y = b;
    int c = strcmp(x->task_id, y->task_id);
    return c ? c : strcmp(x->cron, y->cron);
}

static bool print_line(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) return false;
    puts(s);
    free(s);
    return true;
}

int cmd_export(cli_global *g, int argc, char **argv)
{
    static const struct option options[] = {{"lines", no_argument, NULL, 'l'},
                                            CLI_GLOBAL_OPTIONS, {0}};
    bool lines = false;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":hl", options, NULL)) != -1) {
        if (cli_global_option(g, c, optarg)) continue;
        if (c == 'l') {
            lines = true;
            continue;
        }
        return cli_bad_option("export", c, argv);
    }
    if (g->help) return cli_help(export_help);
    if (optind != argc)
        return cli_usage_error("export", "export: unexpected argument '%s'", argv[optind]);
    tasker_t *t = cli_open(g, -1);
    if (!t) return CLI_FAIL;
    tasker_task *tv = NULL;
    tasker_task_scheme *sv = NULL;
    size_t nt = 0, ns = 0;
    int err = tasker_list_tasks(t, &tv, &nt);
    if (err == TASKER_OK) err = tasker_list_schemes(t, &sv, &ns);
    int rc = CLI_OK;
    if (err != TASKER_OK) {
        rc = cli_lib_error(err, "export");
    } else if (lines) {
        if (ns) qsort(sv, ns, sizeof *sv, cmp_scheme);
        for (size_t i = 0; i < nt && rc == CLI_OK; i++)
            if (!print_line(export_task(&tv[i]))) rc = CLI_FAIL;
        for (size_t i = 0; i < ns && rc == CLI_OK; i++)
            if (!print_line(export_schedule(&sv[i]))) rc = CLI_FAIL;
    } else {
        if (ns) qsort(sv, ns, sizeof *sv, cmp_scheme);
        json_t *ta = json_array(), *sa = json_array();
        for (size_t i = 0; i < nt; i++) json_append(&ta, export_task(&tv[i]));
        for (size_t i = 0; i < ns; i++) json_append(&sa, export_schedule(&sv[i]));
        rc = out_json(ta && sa ? json_pack("{s:o, s:o}", "tasks", ta, "schedules", sa) : NULL);
    }
    tasker_free_tasks(tv, nt);
    tasker_free_schemes(sv, ns);
    tasker_close(t);
    return rc;
}
