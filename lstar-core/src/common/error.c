#include "common/error.h"

#include <stdio.h>
#include <string.h>

const char *lstar_status_name(lstar_status status) {
    switch (status) {
#define LSTAR_STATUS_NAME_(name, value, msg)                                                                  \
    case name:                                                                                                \
        return #name;
        LSTAR_STATUS_TABLE(LSTAR_STATUS_NAME_)
#undef LSTAR_STATUS_NAME_
    default:
        return "LSTAR_UNKNOWN_STATUS";
    }
}

const char *lstar_status_message(lstar_status status) {
    switch (status) {
#define LSTAR_STATUS_MSG_(name, value, msg)                                                                   \
    case name:                                                                                                \
        return msg;
        LSTAR_STATUS_TABLE(LSTAR_STATUS_MSG_)
#undef LSTAR_STATUS_MSG_
    default:
        return "unknown status";
    }
}

void lstar_error_clear(lstar_error *err) {
    if (!err) return;
    memset(err, 0, sizeof *err);
}

char *lstar_error_format(const lstar_error *err, char *buf, unsigned long bufsize) {
    if (!buf || bufsize == 0) return buf;
    buf[0] = '\0';
    if (!err) return buf;
    const char *msg = err->message[0] ? err->message : lstar_status_message(err->status);
    if (err->where[0])
        snprintf(buf, bufsize, "%s: %s", err->where, msg);
    else
        snprintf(buf, bufsize, "%s", msg);
    return buf;
}

lstar_status lstar_err_vset_at(lstar_error *err, const char *file, int line, lstar_status st, const char *where,
                               const char *fmt, va_list ap) {
    if (!err) return st;
    err->status = st;
    err->file = file;
    err->line = line;
    snprintf(err->where, sizeof err->where, "%s", where ? where : "");
    if (fmt)
        vsnprintf(err->message, sizeof err->message, fmt, ap);
    else
        snprintf(err->message, sizeof err->message, "%s", lstar_status_message(st));
    return st;
}

lstar_status lstar_err_set_at(lstar_error *err, const char *file, int line, lstar_status st, const char *where,
                              const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    lstar_status r = lstar_err_vset_at(err, file, line, st, where, fmt, ap);
    va_end(ap);
    return r;
}

void lstar_err_add_where(lstar_error *err, const char *where) {
    if (!err || !where || err->where[0]) return;
    snprintf(err->where, sizeof err->where, "%s", where);
}

void lstar_err_prefix_where(lstar_error *err, const char *prefix) {
    if (!err || !prefix || !prefix[0]) return;
    char tmp[LSTAR_ERROR_WHERE_MAX];
    if (err->where[0])
        snprintf(tmp, sizeof tmp, "%s/%s", prefix, err->where);
    else
        snprintf(tmp, sizeof tmp, "%s", prefix);
    memcpy(err->where, tmp, sizeof tmp);
}
