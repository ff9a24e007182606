// `subscribe` on the control socket: the connection stays open and receives every event
// line the sensor writes from then on (`rein top --socket`). The reply line comes first:
// {"ok":true,"subscribed":true,...} or {"ok":false,"error":...} when the sensor already
// serves its maximum of subscribers.
#pragma once
#include <string>

#include "sinks/subscriber_fanout.h"

namespace rein::cli {

inline constexpr const char* kSubscribeRequest = "subscribe";

// For ControlServer::serve_pending's takeover: false for any other request (the fd stays the
// server's); true when the request was `subscribe` (the fd is then owned and handled here).
bool subscribe(sinks::SubscriberFanout& fanout, const std::string& request, int fd);

// True when something accepts connections at `path` (another running sensor): a sensor
// without a policy leaves that socket alone instead of taking it over.
bool control_socket_in_use(const std::string& path);

}  // namespace rein::cli
