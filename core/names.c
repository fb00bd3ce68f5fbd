/* names.c - the names and texts of errors, states, events and causes. */
#include "synfin.h"

#include <string.h>

/* ---- names ------------------------------------------------------------------ */

const char *sf_strerror(int err)
{
    switch (err) {
    case SF_OK: return "ok";
    case SF_EINVAL: return "invalid argument";
    case SF_ENOMEM: return "out of memory";
    case SF_EEXIST: return "connection already exists";
    case SF_ENOTCONN: return "connection does not exist";
    case SF_ECLOSING: return "connection closing";
    case SF_ERESET: return "connection reset";
    case SF_EREFUSED: return "connection refused";
    case SF_ETIMEDOUT: return "connection timed out";
    case SF_EADDRINUSE: return "address already in use";
    case SF_EAGAIN: return "try again";
    case SF_EBADMSG: return "malformed packet";
    case SF_ENOBUFS: return "buffer too small";
    case SF_EUNREACH: return "destination unreachable";
    case SF_ELOOP: return "hooks nested too deep";
    default: return "unknown error";
    }
}

static const char *const state_names[SF_STATE_COUNT] = {
    "CLOSED",     "LISTEN",     "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
    "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING",  "LAST_ACK", "TIME_WAIT",
};

const char *sf_state_name(sf_state s)
{
    return s < SF_STATE_COUNT ? state_names[s] : "?";
}

const char *sf_event_name(sf_event_type type)
{
    switch (type) {
    case SF_EV_STATE: return "state";
    case SF_EV_DROP: return "drop";
    case SF_EV_ERROR: return "error";
    case SF_EV_URGENT: return "urgent";
    case SF_EV_SOFT_ERROR: return "soft_error";
    case SF_EV_NOTE: return "note";
    default: return "?";
    }
}

const char *sf_cause_name(sf_cause cause)
{
    switch (cause) {
    case SF_CAUSE_USER: return "user";
    case SF_CAUSE_SEGMENT: return "segment";
    case SF_CAUSE_TIMER: return "timer";
    default: return "?";
    }
}

int sf_state_from_name(const char *name)
{
    char norm[16];
    size_t i = 0;
    for (; name[i] && i < sizeof norm - 1; i++) {
        char ch = name[i] == '-' ? '_' : name[i];
        norm[i] = (char)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
    }
    norm[i] = 0;
    if (strcmp(norm, "SYN_RECEIVED") == 0) return SF_SYN_RCVD;
    for (int s = 0; s < SF_STATE_COUNT; s++)
        if (strcmp(norm, state_names[s]) == 0) return s;
    return -1;
}
