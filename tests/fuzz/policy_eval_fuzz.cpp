// Random network and file rules (CIDRs, ports, prefixes, exact paths, basenames, scopes,
// actions, allow-lists, learned host addresses) x random connects and file operations: the
// kernel maps as compiled (KernelModel: longest-prefix lookup + rule_eval.h, the code the
// BPF programs run) must decide exactly like the policy's meaning (reference_eval).
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "enforce/kernel_model.h"
#include "enforce/policy_compiler.h"
#include "enforce/reference_eval.h"
#include "policy/policy_parser.h"

using namespace rein;

namespace {

struct Bytes {
  const uint8_t* p;
  size_t n;
  uint8_t next() {
    if (!n) return 0;
    n--;
    return *p++;
  }
  size_t pick(size_t k) { return k ? next() % k : 0; }
};

const char* const kAddrs[] = {"10.0.0.1",      "10.0.0.9", "10.1.0.1", "127.0.0.9", "127.0.0.5",
                              "192.168.1.1",   "8.8.8.8",  "0.0.0.1",  "::1",       "2001:db8::1",
                              "2001:db8:1::5", "fd00::1",  "::",       "ffff::1"};
const uint16_t kPorts[] = {1, 9, 22, 443, 8000, 8080, 65535};
const char* const kHosts[] = {"h1.test", "h2.test", "*.w.test"};
const char* const kNames[] = {"h1.test", "h2.test", "a.w.test", "w.test"};
const char* const kComps[] = {"a", "b", "ab", ".env"};
const char* const kScopes[] = {
    "", "[A]", "[B]", "[A, B]", "[autodiscovered]", "[A, autodiscovered]"};
const char* const kActions[] = {"audit", "deny", "pause"};

std::string cidr(Bytes& b) {
  std::string a = kAddrs[b.pick(std::size(kAddrs))];
  bool v6 = a.find(':') != std::string::npos;
  int len = int(b.pick(v6 ? 129 : 33));
  if (b.pick(4) == 0) len = v6 ? 128 : 32;
  return "\"" + a + "/" + std::to_string(len) + "\"";
}

std::string ports(Bytes& b) {
  size_t n = b.pick(3);
  if (!n) return "";
  std::string s = ", ports: [";
  for (size_t i = 0; i < n; i++) {
    uint16_t lo = kPorts[b.pick(std::size(kPorts))], hi = kPorts[b.pick(std::size(kPorts))];
    if (lo > hi) std::swap(lo, hi);
    s += (i ? ", \"" : "\"") + std::to_string(lo) + (lo == hi ? "" : "-" + std::to_string(hi)) +
         "\"";
  }
  return s + "]";
}

std::string network(Bytes& b) {
  std::string s = "network: {";
  size_t nc = b.pick(3), nh = b.pick(4) == 0 ? 1 + b.pick(2) : 0;
  std::string sep;
  if (nc) {
    s += "cidrs: [";
    for (size_t i = 0; i < nc; i++) s += (i ? ", " : "") + cidr(b);
    s += "]";
    sep = ", ";
  }
  if (nh) {
    s += sep + "hosts: [";
    for (size_t i = 0; i < nh; i++)
      s += std::string(i ? ", \"" : "\"") + kHosts[b.pick(std::size(kHosts))] + "\"";
    s += "]";
    sep = ", ";
  }
  std::string p = ports(b);
  if (sep.empty() && p.empty()) p = ", ports: [\"9\"]";
  if (sep.empty()) p = p.substr(2);
  return s + p + "}";
}

std::string comps(Bytes& b, size_t lo) {
  std::string s;
  size_t n = lo + b.pick(3);
  for (size_t i = 0; i < n; i++) s += std::string("/") + kComps[b.pick(std::size(kComps))];
  return s;
}

std::string file(Bytes& b) {
  std::string s = "file: {paths: [";
  size_t n = 1 + b.pick(2);
  for (size_t i = 0; i < n; i++) {
    std::string g;
    switch (b.pick(4)) {
      case 0:
        g = comps(b, 1) + "/**";
        break;
      case 1:
        g = comps(b, 1);
        break;
      case 2:
        g = std::string("**/") + kComps[b.pick(std::size(kComps))];
        break;
      default:
        g = b.pick(3) ? comps(b, 1) + "/**" : "/**";
    }
    s += (i ? ", \"" : "\"") + g + "\"";
  }
  s += "]";
  if (b.pick(2)) {
    s += ", ops: [";
    size_t k = 1 + b.pick(3);
    for (size_t i = 0; i < k; i++)
      s += (i ? ", " : "") +
           std::string(policy::file_op_name(policy::FileOp(b.pick(policy::kFileOpCount))));
    s += "]";
  }
  return s + "}";
}

std::string scope(Bytes& b) {
  std::string s = kScopes[b.pick(std::size(kScopes))];
  return s.empty() ? "" : "    agents: " + s + "\n";
}

void fail(const std::string& yaml, const std::string& what) {
  std::fprintf(stderr, "policy:\n%s\nmismatch: %s\n", yaml.c_str(), what.c_str());
  std::abort();
}

struct Who {
  uint64_t bit;
  policy::AgentRef ref;
};

uint8_t kernel_action(const std::optional<policy::Action>& a) {
  if (!a) return REIN_ACT_NONE;
  return *a == policy::Action::kDeny    ? REIN_ACT_DENY
         : *a == policy::Action::kPause ? REIN_ACT_PAUSE
                                        : REIN_ACT_AUDIT;
}

std::string show(uint8_t action, uint32_t rule) {
  return "action " + std::to_string(action) + " rule " + std::to_string(rule);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Bytes b{data, size};
  std::string yaml =
      "apiVersion: rein/v1\nagents:\n  - name: A\n    pid: [1]\n  - name: B\n    pid: [2]\n";
  size_t nrules = b.pick(7), nallow = b.pick(4);
  if (nrules) yaml += "rules:\n";
  for (size_t i = 0; i < nrules; i++)
    yaml += "  - name: r" + std::to_string(i) + "\n" + scope(b) +
            "    action: " + kActions[b.pick(3)] + "\n    " + (b.pick(2) ? network(b) : file(b)) +
            "\n";
  if (nallow) yaml += "allow:\n";
  for (size_t i = 0; i < nallow; i++)
    yaml += "  - name: a" + std::to_string(i) + "\n" + scope(b) +
            "    otherwise: " + kActions[b.pick(3)] + "\n    " +
            (b.pick(2) ? network(b) : file(b)) + "\n";
  auto p = policy::parse_policy(yaml, "fuzz.yaml");
  if (!p.ok()) fail(yaml, "generated policy rejected: " + p.error().message);
  auto k = enforce::compile_policy(*p);
  if (!k.ok()) {
    if (k.error().message.rfind("fuzz.yaml:", 0) != 0 ||
        k.error().message.find("more than 16 rules cover") == std::string::npos)
      fail(yaml, "compile error: " + k.error().message);
    return 0;
  }
  enforce::KernelModel m(*k);

  // Addresses learned from DNS answers: every rule naming the host, as the sensor adds them.
  std::map<std::array<uint8_t, 16>, std::vector<std::string>> names;
  std::map<std::array<uint8_t, 16>, bool> overflowed;
  size_t nlearn = b.pick(4);
  for (size_t l = 0; l < nlearn; l++) {
    std::string name = kNames[b.pick(std::size(kNames))];
    auto ip = policy::IpAddress::parse(kAddrs[b.pick(std::size(kAddrs))]);
    auto addr = enforce::mapped_address(*ip);
    names[addr].push_back(name);
    auto learn = [&](uint32_t index, const policy::NetworkMatch& nm, uint8_t action, uint64_t sc,
                     uint16_t list) {
      bool hit = false;
      for (const auto& h : nm.hosts) hit = hit || h.matches(name);
      if (!hit) return;
      rein_rule r{};
      r.rule = index;
      r.action = action;
      r.scope = sc;
      r.ops = 0xffffffff;
      r.list = list;
      r.nports = uint16_t(nm.ports.size());
      for (size_t i = 0; i < nm.ports.size() && i < REIN_RULE_PORTS; i++) {
        r.ports[i][0] = nm.ports[i].first;
        r.ports[i][1] = nm.ports[i].last;
      }
      if (m.learn(addr, r) != 0) overflowed[addr] = true;
    };
    for (size_t i = 0; i < p->rules.size(); i++)
      if (const auto* nm = std::get_if<policy::NetworkMatch>(&p->rules[i].match))
        learn(uint32_t(i), *nm, kernel_action(p->rules[i].action),
              enforce::scope_mask(*p, p->rules[i].scope), 0);
    for (size_t i = 0; i < p->allow.size(); i++)
      if (const auto* nm = std::get_if<policy::NetworkMatch>(&p->allow[i].match))
        learn(enforce::allow_rule_index(*p, i), *nm, REIN_ACT_NONE,
              enforce::scope_mask(*p, p->allow[i].scope), enforce::allow_list_id(*p, i));
  }

  const Who who[] = {{1ULL << 0, {"s", "A", false}},
                     {1ULL << 1, {"s", "B", false}},
                     {1ULL << REIN_CLASS_DISCOVERED, {"s", "claude", true}},
                     {1ULL << REIN_CLASS_CLI, {"s", "cli-selected", false}}};
  for (const auto& w : who) {
    for (const char* text : kAddrs) {
      auto ip = policy::IpAddress::parse(text);
      auto addr = enforce::mapped_address(*ip);
      if (overflowed.count(addr)) continue;
      static const std::vector<std::string> kNoNames;
      auto it = names.find(addr);
      const auto& nm = it == names.end() ? kNoNames : it->second;
      for (uint16_t port : kPorts) {
        auto ref = enforce::reference_connect(*p, w.ref, *ip, port, nm);
        auto got = m.connect(addr, port, w.bit);
        enforce::KernelVerdict want{kernel_action(ref.action), ref.rule};
        if (!(got == want))
          fail(yaml, std::string("connect ") + text + ":" + std::to_string(port) + " by " +
                         std::string(w.ref.name) + ": kernel " + show(got.action, got.rule) +
                         ", reference " + show(want.action, want.rule));
      }
    }
    std::vector<std::string> paths = {"/",      "/a",           "/b",      "/ab",   "/a/b",
                                      "/a/ab",  "/ab/a",        "/a/.env", "/.env", "/a/b/.env",
                                      "/b/a/b", "/a/b/ab/.env", "/b/.envx"};
    std::string longp = "/a";
    for (int i = 0; i < 30; i++) longp += "/abcdefghi";
    paths.push_back(longp + "/.env");
    paths.push_back(longp);
    for (int i = 0; i < 3; i++) paths.push_back(comps(b, 1));
    for (const auto& path : paths)
      for (unsigned op = 0; op < policy::kFileOpCount; op++) {
        auto ref = enforce::reference_file(*p, w.ref, path, policy::FileOp(op));
        auto got = m.file(path, op + 1, w.bit);
        enforce::KernelVerdict want{kernel_action(ref.action), ref.rule};
        if (!(got == want))
          fail(yaml, "file " + path + " op " + std::to_string(op) + " by " +
                         std::string(w.ref.name) + ": kernel " + show(got.action, got.rule) +
                         ", reference " + show(want.action, want.rule));
      }
  }
  return 0;
}
