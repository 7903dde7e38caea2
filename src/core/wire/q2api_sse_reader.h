/*
 * Copyright (C) ngx_http_q2api_module authors
 */

#ifndef _Q2API_SSE_READER_H_INCLUDED_
#define _Q2API_SSE_READER_H_INCLUDED_


#include "q2api_buf.h"


/*
 * Server-sent events read as they arrive (the WHATWG rules): lines end in
 * LF, CRLF or a lone CR, and the input may be split at any byte, even
 * between the CR and the LF of one line end.  "data:" lines of one event
 * are joined by LF, "event:" names it, "id:" is kept, comments and other
 * fields are skipped, a blank line delivers the event.  Memory is bounded:
 * a line longer than max_line or an event larger than max_event is an
 * error that strerror names, never a bigger allocation.
 */

#define Q2API_SSE_ELINE    -110   /* a line longer than the cap */
#define Q2API_SSE_EEVENT   -111   /* an event's data larger than the cap */


typedef struct {
    q2api_str_t          event;   /* "" when the event has no name */
    q2api_str_t          data;
    q2api_str_t          id;      /* the last id seen, "" if none */
} q2api_sse_message_t;

/* where events go; a non-OK return stops the reading and is returned */
typedef int (*q2api_sse_handler_pt)(void *data, const q2api_sse_message_t *m);


typedef struct {
    q2api_buf_t          line;    /* a line not ended yet */
    q2api_buf_t          data;    /* the data of the event being read */
    q2api_buf_t          event;
    q2api_buf_t          id;
    size_t               max_line;
    unsigned             has_data:1;
    unsigned             after_cr:1;   /* an LF next ends nothing */
} q2api_sse_reader_t;


void q2api_sse_reader_init(q2api_sse_reader_t *r, size_t max_line,
    size_t max_event);
void q2api_sse_reader_free(q2api_sse_reader_t *r);

/*
 * Reads in[0..len) and delivers every event it completes.  Q2API_OK when
 * all was read (*consumed == len), a Q2API_SSE_E* code, Q2API_NOMEM, or
 * the handler's code; *consumed says how far it got.
 */
int q2api_sse_reader_feed(q2api_sse_reader_t *r, const unsigned char *in,
    size_t len, size_t *consumed, q2api_sse_handler_pt handler, void *data);

/*
 * The end of the input ends the last line and the last event: a stream
 * whose last blank line is missing still delivers its last event (its
 * reader decides whether what it says is whole).
 */
int q2api_sse_reader_finish(q2api_sse_reader_t *r,
    q2api_sse_handler_pt handler, void *data);

const char *q2api_sse_reader_strerror(int rc);


#endif /* _Q2API_SSE_READER_H_INCLUDED_ */
