/* UTF-8 well-formedness, shared by the library's id checks (core/validate.c) and the
 * command's JSON output (cli/json.c), so that what one accepts the other does too. */
#ifndef TASKER_CORE_UTF8_H
#define TASKER_CORE_UTF8_H

#include <stddef.h>

/* The length of the well-formed UTF-8 sequence at p within the n bytes left (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF; the same rule as
 * jansson's), or 0 when the bytes there are not one. n >= 1. Thread-safe. */
size_t tasker_utf8_len(const unsigned char *p, size_t n);

#endif
