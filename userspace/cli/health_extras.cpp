#include "cli/health_extras.h"

namespace rein::cli {

void write_capture_health(sinks::JsonWriter& w, const capture::CaptureStats& s,
                          uint64_t recorder_cpu_ns) {
  w.key("capture");
  w.begin_object();
  w.key("entries_appended");
  w.number(s.entries_appended);
  w.key("entries_written");
  w.number(s.entries_written);
  w.key("blocks_written");
  w.number(s.blocks_written);
  w.key("bytes_written");
  w.number(s.bytes_written);
  w.key("queued_bytes");
  w.number(s.queued_bytes);
  w.key("segments_created");
  w.number(s.segments_created);
  w.key("segments_deleted");
  w.number(s.segments_deleted);
  w.key("writer_cpu_ns");
  w.number(s.writer_cpu_ns);
  w.key("recorder_cpu_ns");
  w.number(recorder_cpu_ns);
  w.key("dropped");
  w.begin_object();
  w.key("queue_full");
  w.number(s.dropped_queue_full);
  w.key("write_error");
  w.number(s.dropped_write_error);
  w.key("too_large");
  w.number(s.dropped_too_large);
  w.end_object();
  if (!s.last_error.empty()) {
    w.key("last_error");
    w.string(s.last_error);
  }
  w.end_object();
}

void write_subscriber_health(sinks::JsonWriter& w, const sinks::SubscriberFanout& f) {
  w.key("subscribers");
  w.begin_object();
  w.key("clients");
  w.number(uint64_t(f.clients()));
  w.key("dropped_lines");
  w.number(f.dropped_lines());
  w.key("stalled_disconnects");
  w.number(f.stalled_disconnects());
  w.end_object();
}

void write_detection_time(sinks::JsonWriter& w, const detect::TimeMeter& m) {
  w.key("detection_time");
  w.begin_object();
  w.key("estimated_ns");
  w.number(m.estimated_ns());
  w.key("timed_calls");
  w.number(m.timed_calls());
  w.key("sampled_one_in");
  w.number(detect::TimeMeter::kOneIn);
  w.key("clipped_calls");  // timed calls over 1 ms, counted as 1 ms (preemption)
  w.number(m.clipped());
  w.key("clock_ns");  // a clock read's cost, taken off every timed call
  w.number(m.clock_ns());
  w.end_object();
}

}  // namespace rein::cli
