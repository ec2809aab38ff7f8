#include "core/utf8.h"

size_t tasker_utf8_len(const unsigned char *p, size_t n)
{
    if (p[0] < 0x80) return 1;
    size_t len;
    unsigned char min_second = 0x80, max_second = 0xbf;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        len = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        if (p[0] == 0xe0) min_second = 0xa0; /* overlong */
        if (p[0] == 0xed) max_second = 0x9f; /* surrogates */
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        if (p[0] == 0xf0) min_second = 0x90; /* overlong */
        if (p[0] == 0xf4) max_second = 0x8f; /* above U+10FFFF */
    } else
        return 0;
    if (n < len || p[1] < min_second || p[1] > max_second) return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf) return 0;
    return len;
}
