#ifndef IOT_INGEST_CRC32C_H
#define IOT_INGEST_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Whether this CPU has the SSE 4.2 crc32 instruction (x86-64); 0 elsewhere.
int iot_crc32c_hardware_available(void);

/// Continues the raw CRC-32C register `crc` (not inverted) over `n` bytes with the crc32
/// instruction, 8 bytes per step. Call only when iot_crc32c_hardware_available() says so.
uint32_t iot_crc32c_hardware(uint32_t crc, const void *bytes, size_t n);

#endif
