/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Times as the account stores and imports write them.  q2api keeps
 * "YYYY-MM-DDTHH:MM:SS" in UTC; Kiro's files, PostgreSQL and other tools
 * write RFC 3339 with a fraction, a zone or a space.  One parser takes
 * them all, so that every reader agrees on what a time is.
 */

#ifndef _Q2API_TIME_H_INCLUDED_
#define _Q2API_TIME_H_INCLUDED_


#include <time.h>

#include "q2api_core.h"


/* 10000-01-01T00:00:00Z: the first second no format here can write */
#define Q2API_TIME_MAX  253402300800LL

/* "YYYY-MM-DDTHH:MM:SS" and its NUL */
#define Q2API_TIME_LEN  20


/*
 * s[0..len) into seconds since the epoch: Q2API_OK or Q2API_ERROR.
 *
 *   YYYY-MM-DD{T|t| }HH:MM:SS[.fraction][Z|z|+HH|+HHMM|+HH:MM|-...]
 *
 * without a zone is UTC (q2api's own form); the fraction is dropped;
 * fields after the year may have one digit (older writers did not pad).
 * A string of digits alone is epoch seconds.  The date must exist (leap
 * years count), the year be 1970 to 9999 and the result not before the
 * epoch.  A leap second (:60) is the next second.
 */
int q2api_time_parse(const char *s, size_t len, time_t *t);

/* q2api's form of t, UTC, into out[Q2API_TIME_LEN]; the length written
 * (19), or 0 if t is before the epoch or past year 9999 */
size_t q2api_time_format(time_t t, char *out);


#endif /* _Q2API_TIME_H_INCLUDED_ */
