/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Calendar arithmetic by hand: timegm() is not in C99 and depends on the
 * process's idea of leap seconds, and this must give one answer anywhere.
 */


#include <stdio.h>

#include "q2api_time.h"


static int q2api_time_field(const char **p, const char *end, int min_digits,
    int max_digits, int *v);
static int q2api_time_zone(const char *p, const char *end, long *offset);
static long long q2api_days_from_civil(int y, int m, int d);


int
q2api_time_parse(const char *s, size_t len, time_t *t)
{
    int          y, mo, d, h, mi, sec, mdays;
    long         offset;
    long long    v;
    const char  *p, *end;

    static const int  days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
                                 30, 31 };

    if (s == NULL || len == 0) {
        return Q2API_ERROR;
    }

    p = s;
    end = s + len;

    while (p < end && *p >= '0' && *p <= '9') {
        p++;
    }

    if (p == end) {
        /* epoch seconds; 12 digits already pass year 9999 */
        if (len > 12) {
            return Q2API_ERROR;
        }

        v = 0;

        for (p = s; p < end; p++) {
            v = v * 10 + (*p - '0');
        }

        if (v >= Q2API_TIME_MAX) {
            return Q2API_ERROR;
        }

        *t = (time_t) v;
        return Q2API_OK;
    }

    p = s;

    if (q2api_time_field(&p, end, 4, 4, &y) != Q2API_OK
        || p == end || *p++ != '-'
        || q2api_time_field(&p, end, 1, 2, &mo) != Q2API_OK
        || p == end || *p++ != '-'
        || q2api_time_field(&p, end, 1, 2, &d) != Q2API_OK
        || p == end || (*p != 'T' && *p != 't' && *p != ' '))
    {
        return Q2API_ERROR;
    }

    p++;

    if (q2api_time_field(&p, end, 1, 2, &h) != Q2API_OK
        || p == end || *p++ != ':'
        || q2api_time_field(&p, end, 1, 2, &mi) != Q2API_OK
        || p == end || *p++ != ':'
        || q2api_time_field(&p, end, 1, 2, &sec) != Q2API_OK)
    {
        return Q2API_ERROR;
    }

    if (p < end && *p == '.') {
        p++;

        if (p == end || *p < '0' || *p > '9') {
            return Q2API_ERROR;
        }

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (q2api_time_zone(p, end, &offset) != Q2API_OK) {
        return Q2API_ERROR;
    }

    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59
        || sec > 60)
    {
        return Q2API_ERROR;
    }

    mdays = days[mo - 1];

    if (mo == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) {
        mdays = 29;
    }

    if (d > mdays) {
        return Q2API_ERROR;
    }

    v = q2api_days_from_civil(y, mo, d) * 86400
        + h * 3600 + mi * 60 + sec - offset;

    if (v < 0 || v >= Q2API_TIME_MAX) {
        return Q2API_ERROR;
    }

    *t = (time_t) v;

    return Q2API_OK;
}


size_t
q2api_time_format(time_t t, char *out)
{
    struct tm  tm;

    if (t < 0 || (long long) t >= Q2API_TIME_MAX
        || gmtime_r(&t, &tm) == NULL)
    {
        return 0;
    }

    return (size_t) snprintf(out, Q2API_TIME_LEN,
                             "%04d-%02d-%02dT%02d:%02d:%02d",
                             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                             tm.tm_hour, tm.tm_min, tm.tm_sec);
}


/* min_digits to max_digits decimal digits at *p */
static int
q2api_time_field(const char **p, const char *end, int min_digits,
    int max_digits, int *v)
{
    int  n;

    *v = 0;

    for (n = 0; n < max_digits && *p < end && **p >= '0' && **p <= '9'; n++)
    {
        *v = *v * 10 + (**p - '0');
        (*p)++;
    }

    return n >= min_digits ? Q2API_OK : Q2API_ERROR;
}


/* what follows the seconds: nothing (UTC), Z, or +HH[[:]MM] / -... */
static int
q2api_time_zone(const char *p, const char *end, long *offset)
{
    int     sign, oh, om;
    size_t  len;

    *offset = 0;
    len = end - p;

    if (len == 0) {
        return Q2API_OK;
    }

    if (len == 1 && (*p == 'Z' || *p == 'z')) {
        return Q2API_OK;
    }

    if (*p != '+' && *p != '-') {
        return Q2API_ERROR;
    }

    sign = (*p == '-') ? -1 : 1;

    if (len != 3 && len != 5 && !(len == 6 && p[3] == ':')) {
        return Q2API_ERROR;
    }

    p++;

    if (q2api_time_field(&p, end, 2, 2, &oh) != Q2API_OK) {
        return Q2API_ERROR;
    }

    om = 0;

    if (len > 3) {
        if (*p == ':') {
            p++;
        }

        if (q2api_time_field(&p, end, 2, 2, &om) != Q2API_OK) {
            return Q2API_ERROR;
        }
    }

    if (oh > 23 || om > 59) {
        return Q2API_ERROR;
    }

    *offset = sign * (oh * 3600L + om * 60L);

    return Q2API_OK;
}


/*
 * Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil): years counted from March, so that the leap day is
 * the last of its year.
 */
static long long
q2api_days_from_civil(int y, int m, int d)
{
    int        yoe, doy;
    long long  era, doe;

    y -= m <= 2;
    era = y / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = (long long) yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}
