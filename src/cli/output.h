/* The `tasker` command's output: aligned tables, colour, times and durations for
 * people (table.c, format.c), and the records as JSON for programs (json.c). */
#ifndef TASKER_CLI_OUTPUT_H
#define TASKER_CLI_OUTPUT_H

#include <tasker/tasker.h>

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- colour (format.c) ----------------------------------------------------------- */

typedef enum { CLR_NONE, CLR_RED, CLR_GREEN, CLR_YELLOW, CLR_CYAN, CLR_DIM, CLR_BOLD } cli_colour;

/* True when stdout is a terminal and NO_COLOR is unset or empty (no-color.org). */
bool out_colour_enabled(void);
/* The escape sequences for c, or "" when colour is off (or c is CLR_NONE). */
const char *out_colour_on(cli_colour c);
const char *out_colour_off(cli_colour c);
cli_colour out_status_colour(tasker_exec_status s);
cli_colour out_level_colour(tasker_level l);

/* ---- times (format.c) ------------------------------------------------------------ */

#define FMT_TIME_SIZE 64

/* "2026-11-25 10:49:01" in the local zone; "-" for 0. */
void fmt_local_time(int64_t time_us, char buf[FMT_TIME_SIZE]);
/* "2026-11-25 10:49:01.250" in the local zone: event times, where order within a
 * second matters. */
void fmt_local_time_ms(int64_t time_us, char buf[FMT_TIME_SIZE]);
/* "Wed 2026-11-25 10:49:01 CET" in the local zone. */
void fmt_local_time_zone(int64_t time_us, char buf[FMT_TIME_SIZE]);
/* "2026-11-25 09:49:01 UTC". */
void fmt_utc_time(int64_t time_us, char buf[FMT_TIME_SIZE]);
/* ISO 8601 UTC with microseconds, for JSON: "2026-11-25T09:49:01.123456Z". */
void fmt_iso_utc(int64_t time_us, char buf[FMT_TIME_SIZE]);
/* "850ms", "1.2s", "42s", "2m03s", "1h02m", "3d04h". Negative is "-". */
void fmt_duration(int64_t duration_us, char buf[FMT_TIME_SIZE]);
/* A span of whole seconds in the units `--keep-for` takes, exact: "45s", "10m", "1h30m",
 * "7d", "30d". */
void fmt_span_s(int64_t seconds, char buf[FMT_TIME_SIZE]);
/* A span for people, two units at most: "45s", "3m", "2h05m", "3d04h"; "-" when
 * negative. For "in 3m" and "37m ago". */
void fmt_coarse_span(int64_t span_us, char buf[FMT_TIME_SIZE]);
/* The run time of an execution: end - start, or "running 3.1s", or "-". */
void fmt_exec_duration(const tasker_task_exec *e, int64_t now_us, char buf[FMT_TIME_SIZE]);
/* The next fire of a schedule's expression after now (@every intervals count from
 * created_us); 0 when it never fires again or does not parse. */
/* Microseconds since the epoch now (the real clock). */
int64_t now_us(void);

/* ---- tables (table.c) ------------------------------------------------------------ */

typedef struct out_table out_table;

/* A table with ncols columns and these headers. NULL on out of memory. */
out_table *table_new(int ncols, const char *const *headers);
/* Cells longer than width (in characters) are cut and end with "...". 0 = no limit. */
void table_set_max_width(out_table *tb, int col, int width);
/* Adds a row; cells may be NULL ("-"). Control characters become spaces. colours may
 * be NULL. Returns false on out of memory. */
bool table_add_row(out_table *tb, const char *const *cells, const cli_colour *colours);
/* Prints the headers and the rows, columns padded to their widest cell. */
void table_print(const out_table *tb, FILE *f);
void table_free(out_table *tb);

/* ---- JSON (json.c) --------------------------------------------------------------- */

/* Prints v (indented) and a newline to stdout; takes the reference. CLI_OK, or
 * CLI_FAIL when v is NULL (out of memory). */
int out_json(json_t *v);
/* Appends item to *arr (taking item); false, with *arr freed and NULL, when either is
 * NULL or the append fails: a listing then fails as a whole rather than miss a record. */
bool json_append(json_t **arr, json_t *item);
/* A JSON string of s, or null for NULL. Bytes that are not valid UTF-8 become U+FFFD,
 * one per byte (docs/cli.md), so no record is dropped for its text. NULL only on out
 * of memory. */
json_t *json_text(const char *s);
/* Stored JSON text as a value (so params and results nest, not as strings); bytes
 * that are not UTF-8 are repaired as json_text does; text that does not parse then
 * becomes a string; NULL becomes null. */
json_t *json_from_text(const char *text);
json_t *json_task(const tasker_task *t);
json_t *json_scheme(const tasker_task_scheme *s, int64_t next_us);
json_t *json_exec(const tasker_task_exec *e);
json_t *json_event(const tasker_task_event *e);

/* ---- one-line summaries (format.c) ----------------------------------------------- */

/* What a finished execution produced, for a table cell or a log line: its error, or
 * its result, or "". Points into e. */
const char *fmt_exec_outcome(const tasker_task_exec *e);
/* A run's attempt: "2/5" when the task allows max_attempts > 1, else "1". */
void fmt_exec_attempt(const tasker_task_exec *e, int max_attempts, char buf[FMT_TIME_SIZE]);
/* A run's status, with its delay when it waits for run_at: "pending, in 5m". */
void fmt_exec_state(const tasker_task_exec *e, int64_t now, char buf[FMT_TIME_SIZE]);

#endif
