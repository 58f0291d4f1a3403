// Process groups on libtorch's own distributed engine, c10d: a TCPStore rendezvous (rank 0 hosts
// it, as torchrun's static rendezvous does) and a Gloo group (CPU tensors), or NCCL when the shim
// is built against a CUDA LibTorch that has it. No protocol of our own: every collective is c10d's.
//
// Every call waits at most the group's timeout. A failure names this rank and, when the rendezvous
// store still answers, the ranks that did not report alive within a short grace period: a killed
// peer shows up as "lost rank(s) 1", not only as Gloo's "Connection closed by peer".
// Compiled only when c10d's Gloo headers (and Gloo's own) are usable: DISHIM_WITH_GLOO, set by CMake.
#include "shim_internal.h"

#include <chrono>
#include <memory>
#include <sstream>
#include <thread>

#ifdef DISHIM_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#ifdef DISHIM_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

using namespace dishim::internal;

namespace {

constexpr uint32_t TAG_GROUP = 0x7e45a005u;

#ifdef DISHIM_WITH_GLOO
// The collectives the trainer needs, over either backend (ProcessGroupGloo derives from
// ProcessGroup in 1.13 and from Backend in 2.x, so the group's type is a template parameter).
struct Collectives {
  virtual ~Collectives() = default;
  virtual void all_reduce_sum(at::Tensor &t, std::chrono::milliseconds timeout) = 0;
  virtual void broadcast(at::Tensor &t, int root, std::chrono::milliseconds timeout) = 0;
  virtual void all_gather(at::Tensor &t, std::vector<at::Tensor> &out, std::chrono::milliseconds timeout) = 0;
  virtual void barrier(std::chrono::milliseconds timeout) = 0;
};

template <typename PG> struct Group final : Collectives {
  c10::intrusive_ptr<PG> pg;
  explicit Group(c10::intrusive_ptr<PG> p) : pg(std::move(p)) {}
  template <typename W> static void wait(W &&work, std::chrono::milliseconds timeout) {
    if (!work->wait(timeout)) throw std::runtime_error("timed out");
  }
  void all_reduce_sum(at::Tensor &t, std::chrono::milliseconds timeout) override {
    std::vector<at::Tensor> v{t};
    c10d::AllreduceOptions o;
    o.reduceOp = c10d::ReduceOp::SUM;  // Gloo has no AVG: the caller divides
    o.timeout = timeout;
    wait(pg->allreduce(v, o), timeout);
  }
  void broadcast(at::Tensor &t, int root, std::chrono::milliseconds timeout) override {
    std::vector<at::Tensor> v{t};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    o.timeout = timeout;
    wait(pg->broadcast(v, o), timeout);
  }
  void all_gather(at::Tensor &t, std::vector<at::Tensor> &out, std::chrono::milliseconds timeout) override {
    std::vector<at::Tensor> in{t};
    std::vector<std::vector<at::Tensor>> outs{out};
    c10d::AllgatherOptions o;
    o.timeout = timeout;
    wait(pg->allgather(outs, in, o), timeout);
    out = outs[0];
  }
  void barrier(std::chrono::milliseconds timeout) override {
    c10d::BarrierOptions o;
    o.timeout = timeout;
    wait(pg->barrier(o), timeout);
  }
};
#endif

}  // namespace

struct dt_group_s {
  uint32_t tag = TAG_GROUP;
  int rank = 0, world = 1;
  std::chrono::milliseconds timeout{0};
  int64_t calls = 0;
#ifdef DISHIM_WITH_GLOO
  c10::intrusive_ptr<c10d::Store> store;
  std::unique_ptr<Collectives> coll;
#endif
  ~dt_group_s() { tag = TAG_FREED; }
};

namespace {

dt_group_s *GR(dt_group g) {
  if (g == nullptr) fail("null process group handle");
  if (g->tag != TAG_GROUP) fail(g->tag == TAG_FREED ? "process group handle was already freed" : "not a process group handle");
  return g;
}

// The first line of an exception's message (c10's without its backtrace).
std::string first_line(const std::exception &e) {
  auto *ce = dynamic_cast<const c10::Error *>(&e);
  std::string m = ce != nullptr ? ce->what_without_backtrace() : e.what();
  auto nl = m.find('\n');
  return nl == std::string::npos ? m : m.substr(0, nl);
}

#ifdef DISHIM_WITH_GLOO
// Which ranks are still there: each survivor of a failed collective marks itself alive in the
// store under the failure's sequence number, waits a grace period, and reads who else did.
std::string lost_ranks(dt_group_s *g, const std::string &what) {
  try {
    std::string prefix = "dt/alive/" + what + "/";
    g->store->set(prefix + std::to_string(g->rank), std::vector<uint8_t>{1});
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    std::ostringstream lost;
    int n = 0;
    for (int r = 0; r < g->world; r++) {
      if (r == g->rank || g->store->check({prefix + std::to_string(r)})) continue;
      lost << (n++ ? ", " : "") << r;
    }
    if (n == 0) return "";
    return std::string("; lost rank") + (n > 1 ? "s " : " ") + lost.str();
  } catch (...) {
    // The store is rank 0's: when it does not answer, rank 0 is gone.
    return g->rank == 0 ? "" : "; lost rank 0 (it hosted the rendezvous store)";
  }
}

// Runs one collective; a failure or timeout becomes one message naming this rank and the lost ones.
template <typename F> void collective(dt_group_s *g, const char *what, F &&f) {
  int64_t seq = g->calls++;  // every rank makes the same calls in the same order
  try {
    f();
  } catch (const std::exception &e) {
    std::string m = first_line(e);
    throw std::runtime_error("rank " + std::to_string(g->rank) + " of " + std::to_string(g->world) + ": " + what +
                             " failed: " + m + lost_ranks(g, std::string(what) + "/" + std::to_string(seq)));
  }
}
#endif

}  // namespace

extern "C" {

const char *dt_distributed_backends(void) {
#if defined(DISHIM_WITH_GLOO) && defined(DISHIM_WITH_NCCL)
  return "gloo,nccl";
#elif defined(DISHIM_WITH_GLOO)
  return "gloo";
#else
  return "";
#endif
}

dt_group dt_group_new(const char *backend, const char *host, int port, int rank, int world, int64_t timeout_ms) {
  GUARD(nullptr,
#ifndef DISHIM_WITH_GLOO
        fail("this build of the shim has no distributed backend (it was built without c10d's Gloo headers)");
        return nullptr;
#else
        std::string b = backend == nullptr ? "gloo" : backend;
        if (host == nullptr || *host == 0) fail("no rendezvous host (MASTER_ADDR)");
        if (port <= 0 || port > 65535) fail("rendezvous port must be in 1..65535, got " + std::to_string(port));
        if (world < 1) fail("world size must be at least 1, got " + std::to_string(world));
        if (rank < 0 || rank >= world) fail("rank " + std::to_string(rank) + " is not in 0.." + std::to_string(world - 1));
        if (timeout_ms <= 0) fail("timeout must be positive");
        auto g = std::make_unique<dt_group_s>();
        g->rank = rank;
        g->world = world;
        g->timeout = std::chrono::milliseconds(timeout_ms);
        c10d::TCPStoreOptions so;
        so.port = static_cast<uint16_t>(port);
        so.isServer = rank == 0;
        so.numWorkers = world;
        so.waitWorkers = true;
        so.timeout = g->timeout;
#ifndef DISHIM_WITH_NCCL
        if (b == "nccl") fail("backend nccl: this shim was built without NCCL (it needs a CUDA LibTorch)");
#endif
        if (b != "gloo" && b != "nccl") fail("unknown backend '" + b + "' (gloo or nccl)");
        try {
          g->store = c10::make_intrusive<c10d::TCPStore>(std::string(host), so);
          if (b == "gloo") {
            auto o = c10d::ProcessGroupGloo::Options::create();
            o->timeout = g->timeout;
            const char *ifname = std::getenv("GLOO_SOCKET_IFNAME");
            std::string h(host);
            if (ifname != nullptr && *ifname != 0)
              o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
            else if (h == "127.0.0.1" || h == "localhost" || h == "::1")
              o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
            else
              o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
            auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(g->store, rank, world, o);
            g->coll = std::make_unique<Group<c10d::ProcessGroupGloo>>(pg);
          } else {
#ifdef DISHIM_WITH_NCCL
            auto o = c10d::ProcessGroupNCCL::Options::create();
            o->timeout = g->timeout;
            auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(g->store, rank, world, o);
            g->coll = std::make_unique<Group<c10d::ProcessGroupNCCL>>(pg);
#endif
          }
        } catch (const std::exception &e) {
          fail("rank " + std::to_string(rank) + " of " + std::to_string(world) + ": joining the group at " + host + ":" +
               std::to_string(port) + " failed: " + first_line(e) + " (within " + std::to_string(timeout_ms / 1000.0).substr(0, 5) +
               " s: did every rank start, with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE?)");
        }
        return g.release();
#endif
  )
}

void dt_group_free(dt_group g) {
  if (g != nullptr && g->tag == TAG_GROUP) delete g;
}

int dt_group_rank(dt_group g) { GUARD(-1, return GR(g)->rank;) }
int dt_group_world_size(dt_group g) { GUARD(-1, return GR(g)->world;) }

int dt_group_all_reduce(dt_group g, dt_tensor t, int average) {
  GUARD(-1, auto *gr = GR(g); at::Tensor x = T(t);
#ifdef DISHIM_WITH_GLOO
        if (!x.is_contiguous()) fail("all_reduce needs a contiguous tensor");
        collective(gr, "all_reduce", [&] { gr->coll->all_reduce_sum(x, gr->timeout); });
        if (average) x.div_(gr->world);
#endif
        return 0;)
}

int dt_group_broadcast(dt_group g, dt_tensor t, int root) {
  GUARD(-1, auto *gr = GR(g); at::Tensor x = T(t);
        if (root < 0 || root >= gr->world) fail("broadcast root " + std::to_string(root) + " is not a rank");
#ifdef DISHIM_WITH_GLOO
        if (!x.is_contiguous()) fail("broadcast needs a contiguous tensor");
        collective(gr, "broadcast", [&] { gr->coll->broadcast(x, root, gr->timeout); });
#endif
        return 0;)
}

dt_tensor dt_group_all_gather(dt_group g, dt_tensor t) {
  GUARD(nullptr, auto *gr = GR(g); at::Tensor x = T(t).contiguous(); std::vector<at::Tensor> out;
        for (int r = 0; r < gr->world; r++) out.push_back(at::empty_like(x));
#ifdef DISHIM_WITH_GLOO
        collective(gr, "all_gather", [&] { gr->coll->all_gather(x, out, gr->timeout); });
#endif
        return wrap(at::stack(out));)
}

int dt_group_barrier(dt_group g) {
  GUARD(-1, auto *gr = GR(g);
#ifdef DISHIM_WITH_GLOO
        collective(gr, "barrier", [&] { gr->coll->barrier(gr->timeout); });
#endif
        return 0;)
}

// One flat buffer per module: the .grad of every parameter that has one (a missing gradient
// counts as zeros, so that every rank sends the same layout), all-reduced in one call, averaged,
// and copied back.
int dt_group_all_reduce_grads(dt_group g, dt_module m) {
  GUARD(-1, auto *gr = GR(g); std::vector<at::Tensor> params;
        for (auto p : M(m).parameters()) if (p.requires_grad()) params.push_back(p);
        if (params.empty()) return 0;
        std::vector<at::Tensor> flat;
        for (auto &p : params) {
          auto gd = p.grad();
          flat.push_back(gd.defined() ? gd.reshape({-1}) : at::zeros({p.numel()}, p.options()));
        }
        at::Tensor buf = at::cat(flat);
#ifdef DISHIM_WITH_GLOO
        collective(gr, "all_reduce of gradients", [&] { gr->coll->all_reduce_sum(buf, gr->timeout); });
#endif
        buf.div_(gr->world);
        int64_t off = 0;
        for (auto &p : params) {
          int64_t n = p.numel();
          at::Tensor part = buf.narrow(0, off, n).view(p.sizes());
          if (p.grad().defined()) p.mutable_grad().copy_(part);
          else p.mutable_grad() = part.clone();
          off += n;
        }
        return 0;)
}

// Rank root's parameters and buffers to every rank, in one flat buffer of each dtype.
int dt_group_broadcast_module(dt_group g, dt_module m, int root) {
  GUARD(-1, auto *gr = GR(g); std::vector<at::Tensor> ts;
        if (root < 0 || root >= gr->world) fail("broadcast root " + std::to_string(root) + " is not a rank");
        for (auto p : M(m).parameters()) ts.push_back(p);
        for (auto b : M(m).buffers()) ts.push_back(b);
        torch::NoGradGuard no_grad;
        std::map<at::ScalarType, std::vector<at::Tensor>> by_type;
        for (auto &t : ts) by_type[t.scalar_type()].push_back(t);
        for (auto &[type, group] : by_type) {
          std::vector<at::Tensor> flat;
          for (auto &t : group) flat.push_back(t.reshape({-1}));
          at::Tensor buf = at::cat(flat);
#ifdef DISHIM_WITH_GLOO
          collective(gr, "broadcast of parameters", [&] { gr->coll->broadcast(buf, root, gr->timeout); });
#endif
          int64_t off = 0;
          for (auto &t : group) {
            t.copy_(buf.narrow(0, off, t.numel()).view(t.sizes()));
            off += t.numel();
          }
        }
        return 0;)
}

}  // extern "C"
