/* Backend failures as exceptions: OSError with the errno (or, on Windows,
 * the winerror) and a message naming the step that failed. */
#include <errno.h>
#include <string.h>

#include "glue.h"

/* A new exception object for one failure (not raised), or NULL with an
 * exception set.  `suffix` ends the message. */
static PyObject *
failure(tt_err_kind kind, long code, const char *step, const char *suffix)
{
    char message[512];

    if (kind == TT_ERR_NOMEM)
        return PyErr_NoMemory();
#ifdef MS_WINDOWS
    if (kind == TT_ERR_WIN) {
        /* What PyErr_SetFromWindowsErr(code) builds, OSError(errno, text,
         * None, winerror) with errno and the subclass derived from winerror,
         * but with text naming the call that failed. */
        PyOS_snprintf(message, sizeof(message), "%s failed%s", step, suffix);
        return PyObject_CallFunction(PyExc_OSError, "isOl", 0, message, Py_None, code);
    }
#endif
    if (kind == TT_ERR_PROTO) /* the step says what was malformed */
        PyOS_snprintf(message, sizeof(message), "%s%s", step, suffix);
    else
        PyOS_snprintf(message, sizeof(message), "%s failed: %s%s", step,
                      strerror((int)code), suffix);
    /* OSError(errno, text) picks the subclass (FileNotFoundError, ...). */
    return PyObject_CallFunction(PyExc_OSError, "ls", code, message);
}

void
ttpy_raise_backend_error(const tt_error *err)
{
    PyObject *cause = NULL, *exc;
    char suffix[256] = "";

    if (err->cause_kind != TT_OK && err->kind != TT_ERR_NOMEM) {
        /* /proc failed after netlink did: name both, and chain them. */
        if ((cause = failure(err->cause_kind, err->cause_code, err->cause_step, "")) == NULL)
            return;
        PyOS_snprintf(suffix, sizeof(suffix), " (tried because %s failed: %s)",
                      err->cause_step, strerror((int)err->cause_code));
    }
    if ((exc = failure(err->kind, err->code, err->step, suffix)) == NULL) {
        Py_XDECREF(cause);
        return;
    }
    if (cause != NULL) {
        PyException_SetContext(exc, Py_NewRef(cause));
        PyException_SetCause(exc, cause); /* steals the reference */
    }
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
}

void
ttpy_raise_interrupted(const tt_error *err, int attempts)
{
    char message[256];
    PyObject *exc;

    PyOS_snprintf(message, sizeof(message),
                  "%s was interrupted %d times in a row (EINTR) and no signal handler "
                  "raised: giving up",
                  err->step, attempts);
    /* OSError(EINTR, text) is an InterruptedError; raised as the instance so
     * that `except InterruptedError` matches on 3.10 too, whose except clause
     * compares the raised type before normalizing it. */
    if ((exc = PyObject_CallFunction(PyExc_OSError, "is", EINTR, message)) != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
}
