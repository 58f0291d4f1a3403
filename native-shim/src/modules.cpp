// TorchScript modules: loading and saving (files and bytes), building new modules from Java
// (register_* and define), attribute reads, running methods, and the parameter/buffer views.
#include "shim_internal.h"

#include <torch/csrc/jit/passes/inliner.h>

#include <sstream>

using namespace dishim::internal;

extern "C" {

// ---- TorchScript modules ----------------------------------------------------------------
void dt_module_free(dt_module m) {
  if (m != nullptr && m->tag == TAG_MODULE) delete m;
}
dt_module dt_module_load(const char *path, const char *device) {
  GUARD(nullptr, if (!path) fail("null path");
        return new dt_module_s(torch::jit::load(std::string(path), device_of(device)));)
}
dt_module dt_module_load_bytes(const void *data, int64_t nbytes, const char *device) {
  GUARD(nullptr, if (!data || nbytes <= 0) fail("empty module data");
        std::istringstream is(std::string(static_cast<const char *>(data),
                                          static_cast<size_t>(nbytes)));
        return new dt_module_s(torch::jit::load(is, device_of(device)));)
}
int dt_module_save(dt_module m, const char *path) {
  GUARD(-1, if (!path) fail("null path"); M(m).save(std::string(path)); return 0;)
}
int dt_module_save_bytes(dt_module m, char **out_data, int64_t *out_len) {
  GUARD(-1, std::ostringstream os; M(m).save(os); return return_bytes(os.str(), out_data, out_len);)
}
dt_module dt_module_new(const char *class_name) {
  GUARD(nullptr, if (!class_name || !*class_name) fail("empty class name");
        torch::jit::Module mod{c10::QualifiedName(class_name)};
        // what nn.Module has and torch.jit.script keeps: train()/eval() record the mode in it, Python
        // reads module.training, and TorchScript methods may use self.training
        mod.register_attribute("training", c10::BoolType::get(), true);
        return new dt_module_s(std::move(mod));)
}
dt_module dt_module_clone(dt_module m) {
  GUARD(nullptr, const auto &src = M(m);
        // Under grad mode the copied parameters would be non-leaf results of clone().
        torch::NoGradGuard no_grad; torch::jit::Module c = src.clone();
        for (auto p : c.parameters()) p.requires_grad_(true);
        return new dt_module_s(std::move(c));)
}
dt_module dt_module_freeze(dt_module m) {
  GUARD(nullptr, torch::jit::Module c = M(m).clone(); c.eval();
        return new dt_module_s(torch::jit::freeze(c));)
}
int dt_module_register_module(dt_module m, const char *name, dt_module sub) {
  GUARD(-1, M(m).register_module(name, M(sub)); return 0;)
}
int dt_module_register_parameter(dt_module m, const char *name, dt_tensor t) {
  GUARD(-1, M(m).register_parameter(name, T(t), false); return 0;)
}
int dt_module_register_buffer(dt_module m, const char *name, dt_tensor t) {
  GUARD(-1, M(m).register_buffer(name, T(t)); return 0;)
}
int dt_module_register_double(dt_module m, const char *name, double v) {
  GUARD(-1, M(m).register_attribute(name, c10::FloatType::get(), v); return 0;)
}
int dt_module_register_int(dt_module m, const char *name, int64_t v) {
  GUARD(-1, M(m).register_attribute(name, c10::IntType::get(), v); return 0;)
}
int dt_module_register_int_list(dt_module m, const char *name, const int64_t *v, int n) {
  GUARD(-1, if (n < 0 || (n > 0 && !v)) fail("invalid int list");
        c10::List<int64_t> l(std::vector<int64_t>(v, v + n));
        M(m).register_attribute(name, c10::ListType::ofInts(), l); return 0;)
}
int dt_module_define(dt_module m, const char *source) {
  GUARD(-1, if (!source) fail("null source"); M(m).define(source); return 0;)
}
int dt_module_has_attr(dt_module m, const char *name) {
  GUARD(-1, return M(m).hasattr(name) ? 1 : 0;)
}
int dt_module_get_double(dt_module m, const char *name, double *out) {
  GUARD(-1, require_out(out, "value"); auto v = M(m).attr(name);
        if (v.isDouble()) *out = v.toDouble();
        else if (v.isInt()) *out = static_cast<double>(v.toInt());
        else fail(std::string("attribute '") + name + "' is a " + v.tagKind() + ", not a number");
        return 0;)
}
int dt_module_get_int_list(dt_module m, const char *name, int64_t *out, int cap) {
  GUARD(-1, auto v = M(m).attr(name);
        if (!v.isIntList())
          fail(std::string("attribute '") + name + "' is a " + v.tagKind() + ", not a list of ints");
        auto l = v.toIntVector(); if (cap > 0) require_out(out, "list");
        for (size_t i = 0; i < l.size() && static_cast<int>(i) < cap; i++) out[i] = l[i];
        return static_cast<int>(l.size());)
}
int dt_module_run(dt_module m, const char *method, int nargs, const int *kinds,
                  const dt_tensor *tensors, const double *doubles, const int64_t *ints,
                  dt_tensor *outs, int cap) {
  GUARD(-1, auto &mod = M(m); std::string name = method ? method : "forward";
        if (nargs < 0 || (nargs > 0 && !kinds)) fail("invalid argument list");
        auto found = mod.find_method(name);
        if (!found) fail("module has no method '" + name + "'");
        std::vector<c10::IValue> args; args.reserve(nargs);
        for (int i = 0; i < nargs; i++) {
          switch (kinds[i]) {
            case DT_ARG_TENSOR: require_out(tensors, "tensor args"); args.emplace_back(T(tensors[i])); break;
            case DT_ARG_DOUBLE: require_out(doubles, "double args"); args.emplace_back(doubles[i]); break;
            case DT_ARG_INT: require_out(ints, "int args"); args.emplace_back(ints[i]); break;
            case DT_ARG_BOOL: require_out(ints, "bool args"); args.emplace_back(ints[i] != 0); break;
            case DT_ARG_NONE: args.emplace_back(); break;
            default: fail("unknown argument kind " + std::to_string(kinds[i]));
          }
        }
        c10::IValue r = (*found)(std::move(args));
        return write_handles(tensors_in(r, "method '" + name + "'"), outs, cap);)
}
char *dt_module_methods(dt_module m) {
  GUARD(nullptr, std::ostringstream os;
        for (const auto &method : M(m).get_methods()) os << method.function().getSchema() << "\n";
        return copy_string(os.str());)
}
char *dt_module_names(dt_module m, int kind) {
  GUARD(nullptr, std::ostringstream os;
        if (kind == 0) for (const auto &p : M(m).named_parameters(true)) os << p.name << "\n";
        else if (kind == 1) for (const auto &p : M(m).named_buffers(true)) os << p.name << "\n";
        else fail("kind must be 0 (parameters) or 1 (buffers)");
        return copy_string(os.str());)
}
int dt_module_tensors(dt_module m, int kind, dt_tensor *out, int cap) {
  GUARD(-1, std::vector<at::Tensor> v;
        if (kind == 0) for (const auto &p : M(m).named_parameters(true)) v.push_back(p.value);
        else if (kind == 1) for (const auto &p : M(m).named_buffers(true)) v.push_back(p.value);
        else fail("kind must be 0 (parameters) or 1 (buffers)");
        return write_handles(v, out, cap);)
}
int dt_module_train(dt_module m, int on) { GUARD(-1, M(m).train(on != 0); return 0;) }
int dt_module_is_training(dt_module m) { GUARD(-1, return M(m).is_training() ? 1 : 0;) }
int dt_module_to(dt_module m, const char *device, int dtype) {
  GUARD(-1, auto &mod = M(m); if (device) mod.to(device_of(device));
        if (dtype >= 0) mod.to(dtype_of(dtype)); return 0;)
}
int dt_module_requires_grad_(dt_module m, int on) {
  GUARD(-1, for (auto p : M(m).parameters()) p.requires_grad_(on != 0); return 0;)
}
int dt_module_reads_training(dt_module m) {
  // Every method of the module and its submodules, uninlined: with the graph executor's
  // optimisation off (as this library runs), Inline leaves submodule calls alone, so forward's own
  // graph would hide a Dropout's flag. Reads anywhere in the tree count (a safe over-estimate).
  GUARD(-1, auto &mod = M(m); bool reads = false;
        for (const auto &sub : mod.modules())
          for (const auto &method : sub.get_methods())
            if (method.graph()->toString().find("name=\"training\"") != std::string::npos) reads = true;
        return reads ? 1 : 0;)
}

}  // extern "C"
