/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * q2api_time: every form the stores and the admin API read, the calendar
 * (leap years, month ends), zones, and what is refused.
 */


#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "tap.h"
#include "q2api_time.h"


static long long
parse(const char *s)
{
    time_t  t;

    if (q2api_time_parse(s, strlen(s), &t) != Q2API_OK) {
        return -1;
    }

    return (long long) t;
}


static void
test_forms(void)
{
    static const struct {
        const char  *in;
        long long    want;
    } cases[] = {
        /* q2api's own */
        { "2025-01-01T00:00:00", 1735689600 },
        { "2025-01-01 00:00:00", 1735689600 },
        { "2025-01-01t00:00:00", 1735689600 },
        /* RFC 3339 */
        { "2025-01-01T00:00:00Z", 1735689600 },
        { "2025-01-01T00:00:00z", 1735689600 },
        { "2025-01-01T00:00:00.000Z", 1735689600 },
        { "2025-01-01T00:00:00.123456789Z", 1735689600 },
        { "2025-01-01T00:00:00.5", 1735689600 },
        { "2025-01-01T01:00:00+01:00", 1735689600 },
        { "2025-01-01T01:00:00+0100", 1735689600 },
        { "2025-01-01T01:00:00+01", 1735689600 },
        { "2024-12-31T19:00:00-05:00", 1735689600 },
        { "2025-01-01T05:30:00.25+05:30", 1735689600 },
        { "2024-12-31T23:59:59-00:00", 1735689599 },
        /* PostgreSQL's text of a timestamptz */
        { "2025-01-01 00:00:00+00", 1735689600 },
        { "2025-01-01 00:00:00.123+00", 1735689600 },
        /* unpadded fields, as sscanf("%d-%d-%dT%d:%d:%d") read them */
        { "2025-1-1T0:0:0", 1735689600 },
        { "2025-01-02T3:04:5", 1735776000 + 3 * 3600 + 4 * 60 + 5 },
        /* epoch seconds */
        { "0", 0 },
        { "1735689600", 1735689600 },
        { "253402300799", 253402300799LL },
        /* the ends */
        { "1970-01-01T00:00:00Z", 0 },
        { "9999-12-31T23:59:59Z", 253402300799LL },
        { "1970-01-01T01:00:00+01:00", 0 },
        /* a leap second is the next second */
        { "2016-12-31T23:59:60Z", 1483228800 }
    };

    size_t  i;
    char    name[128];

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(name, sizeof(name), "parses \"%s\"", cases[i].in);
        if (!ok(parse(cases[i].in) == cases[i].want, name)) {
            diag("got %lld, want %lld", parse(cases[i].in), cases[i].want);
        }
    }
}


static void
test_calendar(void)
{
    int        y, m, d, mdays, bad;
    char       s[64];
    time_t     t;
    struct tm  tm;

    static const int  days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
                                 30, 31 };

    ok(parse("2024-02-29T12:00:00Z") == 1709208000, "2024 is a leap year");
    ok(parse("2000-02-29T00:00:00Z") == 951782400,
       "2000 is a leap year (divisible by 400)");
    ok(parse("2023-02-29T00:00:00Z") == -1, "2023 is not");
    ok(parse("2100-02-29T00:00:00Z") == -1,
       "2100 is not (divisible by 100)");
    ok(parse("2400-02-29T00:00:00Z") > 0, "2400 is");
    ok(parse("2000-03-01T00:00:00Z") == 951868800, "the day after");
    ok(parse("2025-04-31T00:00:00Z") == -1, "April has 30 days");
    ok(parse("2025-12-31T00:00:00Z") > 0, "December has 31");
    ok(parse("2025-12-32T00:00:00Z") == -1, "but not 32");

    /* every day of 1970 to 2200 and of 9990 to 9999, against timegm() */
    bad = 0;

    for (y = 1970; y <= 9999; y++) {
        if (y == 2201) {
            y = 9990;
        }

        for (m = 1; m <= 12; m++) {
            mdays = days[m - 1];

            if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) {
                mdays = 29;
            }

            for (d = 1; d <= mdays; d++) {
                snprintf(s, sizeof(s), "%04d-%02d-%02dT13:14:15Z", y, m, d);

                memset(&tm, 0, sizeof(struct tm));
                tm.tm_year = y - 1900;
                tm.tm_mon = m - 1;
                tm.tm_mday = d;
                tm.tm_hour = 13;
                tm.tm_min = 14;
                tm.tm_sec = 15;

                if (q2api_time_parse(s, strlen(s), &t) != Q2API_OK
                    || t != timegm(&tm))
                {
                    if (bad++ < 5) {
                        diag("%s", s);
                    }
                }
            }
        }
    }

    is_int(bad, 0, "every day agrees with timegm()");
}


static void
test_refused(void)
{
    size_t  i;
    char    name[128];
    time_t  t;

    static const char  *cases[] = {
        "",
        " 2025-01-01T00:00:00",
        "2025-01-01T00:00:00 ",
        "2025-01-01",
        "2025-01-01T00:00",
        "25-01-01T00:00:00",
        "02025-01-01T00:00:00",
        "2025/01/01T00:00:00",
        "2025-01-01X00:00:00",
        "2025-01-01T00-00-00",
        "2025-001-01T00:00:00",
        "2025-00-01T00:00:00",
        "2025-13-01T00:00:00",
        "2025-01-00T00:00:00",
        "2025-01-01T24:00:00",
        "2025-01-01T00:60:00",
        "2025-01-01T00:00:61",
        "2025-01-01T00:00:00.",
        "2025-01-01T00:00:00.Z",
        "2025-01-01T00:00:00ZZ",
        "2025-01-01T00:00:00UTC",
        "2025-01-01T00:00:00+1",
        "2025-01-01T00:00:00+01:0",
        "2025-01-01T00:00:00+01:000",
        "2025-01-01T00:00:00+0100Z",
        "2025-01-01T00:00:00+24:00",
        "2025-01-01T00:00:00+01:60",
        "2025-01-01T00:00:00+01-00",
        "2025-01-01T00:00:00 +01:00",
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:00:00+00:01",
        "10000-01-01T00:00:00Z",
        "9999-12-31T23:59:59-00:01",
        "253402300800",
        "9999999999999",
        "-1",
        "+1",
        "1e9",
        "1735689600.5",
        "tomorrow"
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(name, sizeof(name), "refuses \"%s\"", cases[i]);
        ok(parse(cases[i]) == -1, name);
    }

    ok(q2api_time_parse(NULL, 0, &t) == Q2API_ERROR, "refuses NULL");

    /* the length is the string: no reading past it, no NUL needed */
    t = 7;
    ok(q2api_time_parse("2025-01-01T00:00:00Zjunk", 20, &t) == Q2API_OK
       && t == 1735689600, "stops at len");
    ok(q2api_time_parse("2025-01-01T00:00:00", 17, &t) == Q2API_ERROR,
       "a cut string is refused");
    ok(q2api_time_parse("17356896001", 10, &t) == Q2API_OK
       && t == 1735689600, "epoch digits stop at len");
}


static void
test_format(void)
{
    char    out[Q2API_TIME_LEN];
    time_t  t, back;

    static const time_t  cases[] = { 0, 951782400, 1709208000, 1735689599,
                                     253402300799LL };
    size_t  i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        t = cases[i];

        if (!ok(q2api_time_format(t, out) == 19
                && q2api_time_parse(out, 19, &back) == Q2API_OK
                && back == t, "format and parse round trip"))
        {
            diag("%lld: %s", (long long) t, out);
        }
    }

    q2api_time_format(1735689600, out);
    is_str(out, "2025-01-01T00:00:00", "q2api's form");

    q2api_time_format(1709208000, out);
    is_str(out, "2024-02-29T12:00:00", "a leap day");

    ok(q2api_time_format(-1, out) == 0, "before the epoch: nothing");
    ok(q2api_time_format((time_t) 253402300800LL, out) == 0,
       "past 9999: nothing");
}


int
main(void)
{
    test_forms();
    test_calendar();
    test_refused();
    test_format();

    return done_testing();
}
