/*
 * Copyright (C) ngx_http_q2api_module authors
 */

#ifndef _Q2API_TOOL_NAME_H_INCLUDED_
#define _Q2API_TOOL_NAME_H_INCLUDED_


#include "q2api_core.h"


/*
 * A client's tool name made to fit a back end's pattern: letters, digits,
 * "_" and the characters of "extra" stay, others become "_"; a name whose
 * first character is neither a letter nor one of "first" gets "prefix";
 * a name that changed, or was longer than max, ends in "_" and a CRC-32
 * of the original, so that two tools never collide and answers can be
 * mapped back by computing the same for each client name.  out holds
 * max + 1 bytes (max > 9); returns the length.
 */
size_t q2api_tool_name_fit(const char *name, size_t len, char *out,
    size_t max, const char *first, const char *extra, const char *prefix);


#endif /* _Q2API_TOOL_NAME_H_INCLUDED_ */
