/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Tool names in the patterns back ends accept.
 */


#include <stdio.h>
#include <zlib.h>

#include "q2api_tool_name.h"


static int
q2api_tool_name_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}


size_t
q2api_tool_name_fit(const char *name, size_t len, char *out, size_t max,
    const char *first, const char *extra, const char *prefix)
{
    char      c;
    size_t    i, n, keep;
    uint32_t  crc;
    int       changed;

    changed = (len == 0 || len > max);
    n = 0;

    if (len == 0
        || !(q2api_tool_name_letter(name[0])
             || (name[0] != '\0' && strchr(first, name[0]) != NULL)))
    {
        for (i = 0; prefix[i] != '\0' && n < max; i++) {
            out[n++] = prefix[i];
        }

        changed = 1;
    }

    /* room for "_" and 8 hex digits when the name had to change */
    keep = max - 9;

    for (i = 0; i < len && n < max; i++) {
        c = name[i];

        if (!(q2api_tool_name_letter(c) || (c >= '0' && c <= '9')
              || c == '_' || (c != '\0' && strchr(extra, c) != NULL)))
        {
            c = '_';
            changed = 1;
        }

        out[n++] = c;
    }

    if (changed) {
        if (n > keep) {
            n = keep;
        }

        crc = crc32(0, (const Bytef *) name, len);
        n += snprintf(out + n, 10, "_%08x", crc);
    }

    out[n] = '\0';

    return n;
}
