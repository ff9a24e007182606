// Fields rein run adds to sensor.health beyond the pipeline's own.
// The capture writer's counters as sensor.health reports them (`capture` object): what
// reached the journal and what was dropped, by reason. Drops are otherwise silent: the
// writer never blocks the sensor, so a slow disk or ENOSPC shows only here and as gaps in
// Entry.seq.
#pragma once
#include "capture/capture_writer.h"
#include "detect/time_meter.h"
#include "sinks/json_writer.h"
#include "sinks/subscriber_fanout.h"

namespace rein::cli {

// Also the CPU time capture costs: the writer thread's, and the sensor thread's in the
// recorder (scrubbing records, queueing entries), so its share of the sensor's is known.
void write_capture_health(sinks::JsonWriter& w, const capture::CaptureStats& s,
                          uint64_t recorder_cpu_ns);
// `subscribers`: control-socket clients (`rein top --socket`), the lines they lost to a full
// queue and the clients cut off for stalling. Kept out of the drop counters: a slow viewer
// is not lost telemetry.
void write_subscriber_health(sinks::JsonWriter& w, const sinks::SubscriberFanout& f);
// `detection_time`: the pipeline's time in the detection engine and its glue, estimated from
// a sample of the calls (detect/time_meter.h); benchmarks set it against the sensor's CPU.
void write_detection_time(sinks::JsonWriter& w, const detect::TimeMeter& m);

}  // namespace rein::cli
