#ifndef IOT_INGEST_CLIBPQ_SHIM_H
#define IOT_INGEST_CLIBPQ_SHIM_H
/* libpq's client API; Swift wraps it in PostgresSink. pkg-config adds the include path. */
#include <libpq-fe.h>
#endif
