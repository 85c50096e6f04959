#ifndef IOT_INGEST_CMOSQUITTO_SHIM_H
#define IOT_INGEST_CMOSQUITTO_SHIM_H
/* The whole libmosquitto client API; Swift wraps it in MQTTSource. */
#include <mosquitto.h>
#endif
