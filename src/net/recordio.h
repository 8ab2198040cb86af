/*
 * recordio.h - Mesos RecordIO framing: "<decimal byte length>\n<payload>", repeated.
 *
 * The encoder produces one record as one buffer (so a server can send it as one HTTP
 * chunk). The decoder accepts bytes split anywhere and hands out whole records; the
 * length line must be 1-20 ASCII digits and not zero (so never encode an empty payload).
 */
#ifndef CR_NET_RECORDIO_H
#define CR_NET_RECORDIO_H

#include <stddef.h>

#include "base/err.h"

/*
 * Frame payload: returns a malloc'd buffer "<len>\n<payload>" (owned: free(); also
 * NUL-terminated, not counted in *out_len) and its size in *out_len, or NULL on
 * allocation failure.
 */
char *cr_recordio_encode(const char *payload, size_t len, size_t *out_len);

typedef int (*cr_recordio_record_fn)(const char *record, size_t len, void *ud);

struct cr_recordio_reader {
    char *buf; /* owned */
    size_t len, cap;
    size_t max_record; /* records longer than this are an error; default 64 MiB */
};

/* Start a reader; max_record 0 = 64 MiB. Release with cr_recordio_reader_release(). */
void cr_recordio_reader_init(struct cr_recordio_reader *r, size_t max_record);
/* Free the buffered partial record. Accepts NULL. */
void cr_recordio_reader_release(struct cr_recordio_reader *r);

/*
 * Feed bytes; calls on_record for each complete record, in order (record borrowed during
 * the call, not NUL-terminated; on_record must not release r). A nonzero return from
 * on_record stops feeding and is returned: that record counts as consumed and the rest of
 * data is dropped. Returns 0, or -EPROTO (bad length line: empty, non-digits, zero, too
 * many digits or over max_record) with err filled; records before the bad one have been
 * delivered, and the stream cannot be resynchronised (the reader is left empty).
 */
int cr_recordio_feed(struct cr_recordio_reader *r, const char *data, size_t len,
                     cr_recordio_record_fn on_record, void *ud, struct cr_err *err);

#endif
