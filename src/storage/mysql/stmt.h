/* The MySQL driver's statements (layer 1, above conn.h): every statement's SQL
 * prepared once per connection (stmt.c), binding parameters, reading rows into
 * records; statements prepared per call (the cluster paths); the schema and its
 * migrations (schema.c). It calls only conn.h. */
#ifndef TASKER_SRC_MYSQL_STMT_H
#define TASKER_SRC_MYSQL_STMT_H

#include "storage/mysql/conn.h"

#define MY_NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- the statement table (my_stmt_id, internal.h) ---- */
MYSQL_STMT *my_stmt(my_store *s, my_conn *c, my_stmt_id id);
void my_bind_str(MYSQL_BIND *b, const char *s, unsigned long *len);
void my_bind_i64(MYSQL_BIND *b, const int64_t *v);
void my_bind_int(MYSQL_BIND *b, const int *v);
/* Executes statement id with params; *affected gets the matched rows (may be NULL). */
int my_run(my_store *s, my_conn *c, my_stmt_id id, MYSQL_BIND *params, uint64_t *affected);

typedef enum { MC_STR, MC_I64, MC_INT, MC_BOOL } my_col_type;
typedef struct {
    my_col_type type;
    size_t offset; /* into the record */
} my_col;
/* Executes a query and reads every row into a malloc'd array of records of rec_size
 * bytes, each column into its field. *out NULL and *n 0 when no row. */
int my_query(my_store *s, my_conn *c, my_stmt_id id, MYSQL_BIND *params, const my_col *cols,
             int ncols, size_t rec_size, void **out, size_t *n);

/* ---- an execution's columns ---- */
/* The columns of an execution as MY_EXEC_COLS lists them, for my_cl_fetch /
 * my_fetch_exec, and the same as my_query columns (my_exec_cols). */
#define MY_EXEC_NCOLS 19
#define MY_EXEC_COLS                                                                     \
    "exec_id, task_id, scheme_id, scheduled_us, queued_us, start_us, end_us, status, "  \
    "success, result, error, node_id, attempt, retry_of, run_at_us, priority, param, "   \
    "unique_key, timeout_ms"
extern const my_col my_exec_cols[MY_EXEC_NCOLS];
/* Whether a task's runs are held (schema 7): a start leaves them to claims. SQL on tasks. */
#define HELD_BY_TASK "(paused <> 0 OR max_concurrency > 0)"

/* ---- statements prepared per call (params may be NULL) ---- */
typedef struct {
    int64_t *i64; /* an integer column, or */
    char **str;   /* a string column (malloc'd; NULL for SQL NULL) */
} my_cl_col;
int my_cl_prepare(my_store *s, my_conn *c, const char *sql, MYSQL_BIND *params,
                  MYSQL_STMT **out, const char *what);
int my_cl_run(my_store *s, my_conn *c, const char *sql, MYSQL_BIND *params,
              uint64_t *affected, const char *what);
/* 1 = a row, 0 = no more, negative = a tasker error code. */
int my_cl_fetch(my_store *s, my_conn *c, MYSQL_STMT *st, my_cl_col *cols, int n);
/* Fetches the next row of st (selecting MY_EXEC_COLS) into *e: 1 a row, 0 no more, or a
 * negative tasker code. */
int my_fetch_exec(my_store *s, my_conn *c, MYSQL_STMT *st, tasker_task_exec *e);
/* Begins a READ COMMITTED transaction on c (autocommit on). */
int my_cl_begin(my_store *s, my_conn *c, const char *what);
/* A deadlock or a lock wait timeout: the transaction may simply run again. */
bool my_cl_retryable(unsigned err);
/* "?, ?, ..., ?" (n marks) appended to sql at *at. */
void my_sql_marks(char *sql, size_t *at, size_t n);

/* ---- schema.c: migrations (my_test_schema_target: internal.h) ---- */
int my_migrate(my_store *s, my_conn *c);

#endif
