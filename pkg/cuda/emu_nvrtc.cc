// The emulated NVRTC: the same kernel source, compiled by the host C++
// compiler after emu_cuda.h into a shared object. Every extern "C"
// __global__ function (and every name expression) gets an entry point
// __emu_entry_NAME(void** params) that the emulated cuLaunchKernel calls
// once per CUDA thread. The "PTX" is an image the emulated
// cuModuleLoadData understands: "NVAEEMU1", a 64-bit length, the .so.
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "emu.h"

namespace {

enum {
	NVRTC_SUCCESS = 0,
	NVRTC_ERROR_OUT_OF_MEMORY = 1,
	NVRTC_ERROR_PROGRAM_CREATION_FAILURE = 2,
	NVRTC_ERROR_INVALID_INPUT = 3,
	NVRTC_ERROR_INVALID_PROGRAM = 4,
	NVRTC_ERROR_INVALID_OPTION = 5,
	NVRTC_ERROR_COMPILATION = 6,
	NVRTC_ERROR_BUILTIN_OPERATION_FAILURE = 7,
	NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION = 8,
	NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION = 9,
	NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID = 10,
	NVRTC_ERROR_INTERNAL_ERROR = 11,
};

struct Program {
	std::string src, name;
	std::vector<std::pair<std::string, std::string>> headers;  // include name, text
	std::vector<std::string> exprs;
	std::map<std::string, std::string> lowered;
	bool compiled = false;
	std::string log, image;
};

bool IsIdent(char c) { return isalnum((unsigned char)c) || c == '_'; }

// Blank out comments and string literals (same length), so scanning for
// declarations does not see them.
std::string Blank(const std::string& s) {
	std::string o = s;
	size_t i = 0, n = s.size();
	while (i < n) {
		if (s[i] == '/' && i + 1 < n && s[i + 1] == '/') {
			while (i < n && s[i] != '\n') o[i++] = ' ';
		} else if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
			while (i < n && !(s[i] == '*' && i + 1 < n && s[i + 1] == '/')) {
				if (s[i] != '\n') o[i] = ' ';
				i++;
			}
			if (i < n) o[i] = o[i + 1] = ' ', i += 2;
		} else if (s[i] == '"') {
			size_t j = i + 1;
			while (j < n && s[j] != '"') j += s[j] == '\\' ? 2 : 1;
			// keep "C" so extern "C" stays visible
			if (!(j == i + 2 && s[i + 1] == 'C'))
				for (size_t k = i + 1; k < j && k < n; k++) o[k] = ' ';
			i = j + 1;
		} else i++;
	}
	return o;
}

// Kernels: extern "C" __global__ ... void NAME(
std::vector<std::string> FindKernels(const std::string& b) {
	std::vector<std::string> out;
	size_t pos = 0;
	while ((pos = b.find("__global__", pos)) != std::string::npos) {
		size_t at = pos;
		pos += 10;
		if ((at > 0 && IsIdent(b[at - 1])) || (pos < b.size() && IsIdent(b[pos]))) continue;
		// extern "C" just before?
		size_t k = at;
		while (k > 0 && isspace((unsigned char)b[k - 1])) k--;
		if (k < 10 || b.compare(k - 10, 10, "extern \"C\"") != 0) continue;
		size_t v = b.find('(', pos);
		if (v == std::string::npos) continue;
		// the identifier right before '(' (skipping __launch_bounds__(...) first)
		size_t lb = b.find("__launch_bounds__", pos);
		if (lb != std::string::npos && lb < v) {
			size_t close = b.find(')', lb);
			if (close == std::string::npos) continue;
			v = b.find('(', close);
			if (v == std::string::npos) continue;
		}
		size_t e = v;
		while (e > 0 && isspace((unsigned char)b[e - 1])) e--;
		size_t s = e;
		while (s > 0 && IsIdent(b[s - 1])) s--;
		if (s < e) out.push_back(b.substr(s, e - s));
	}
	return out;
}

// extern __shared__ [__align__(n)] T name[];  ->  T* name = dynamic shared memory
std::string RewriteDynShared(const std::string& src, std::string* err) {
	std::string b = Blank(src), out;
	size_t pos = 0, last = 0;
	const std::string key = "extern";
	while ((pos = b.find(key, pos)) != std::string::npos) {
		size_t at = pos;
		pos += key.size();
		if ((at > 0 && IsIdent(b[at - 1])) || IsIdent(b[pos])) continue;
		size_t k = pos;
		while (k < b.size() && isspace((unsigned char)b[k])) k++;
		if (b.compare(k, 10, "__shared__") != 0) continue;
		size_t semi = b.find(';', k);
		if (semi == std::string::npos) break;
		std::string decl = b.substr(k + 10, semi - (k + 10));
		size_t al = decl.find("__align__");
		if (al != std::string::npos) {
			size_t close = decl.find(')', al);
			decl.erase(al, close - al + 1);
		}
		size_t br = decl.rfind('[');
		if (br == std::string::npos) {
			*err = "extern __shared__ declaration without []";
			return src;
		}
		size_t e = br;
		while (e > 0 && isspace((unsigned char)decl[e - 1])) e--;
		size_t s = e;
		while (s > 0 && IsIdent(decl[s - 1])) s--;
		std::string name = decl.substr(s, e - s), type = decl.substr(0, s);
		out += src.substr(last, at - last);
		out += "__EMU_DYN_SHARED(" + type + ", " + name + ")";
		last = semi;
		pos = semi;
	}
	out += src.substr(last);
	return out;
}

bool WriteFile(const std::string& path, const std::string& data) {
	std::ofstream f(path, std::ios::binary);
	f << data;
	return bool(f);
}

std::string ShellQuote(const std::string& s) {
	std::string o = "'";
	for (char c : s) {
		if (c == '\'') o += "'\\''";
		else o += c;
	}
	return o + "'";
}

bool Known(const std::string& o) {
	static const char* prefixes[] = {
	    "-arch=", "--gpu-architecture=", "-D", "--define-macro=", "-U", "--undefine-macro=", "-I", "--include-path=",
	    "-std=", "--std=", "-lineinfo", "--generate-line-info", "-G", "--device-debug", "-use_fast_math",
	    "--use_fast_math", "-default-device", "--device-as-default-execution-space", "-fmad=", "--fmad=", "-w",
	    "--disable-warnings", "-ftz=", "--ftz=", "-prec-div=", "--prec-div=", "-prec-sqrt=", "--prec-sqrt=",
	    "-restrict", "--restrict", "-dopt=", "--dopt=", "-Werror", "-extra-device-vectorization",
	    "--extra-device-vectorization", "-maxrregcount=", "--maxrregcount=", "-dlto", "-rdc=", "--relocatable-device-code=",
	};
	for (const char* p : prefixes)
		if (o.compare(0, strlen(p), p) == 0) {
			// exact options must match exactly
			size_t n = strlen(p);
			if (p[n - 1] != '=' && !(p[0] == '-' && (p[1] == 'D' || p[1] == 'U' || p[1] == 'I') && n == 2) && o.size() != n)
				continue;
			return true;
		}
	return false;
}

}  // namespace

using emu::SetDetail;

extern "C" {

int emu_nvrtcVersion(int* major, int* minor) {
	if (!major || !minor) return NVRTC_ERROR_INVALID_INPUT;
	*major = 11;
	*minor = 8;
	return 0;
}

const char* emu_nvrtcGetErrorString(int r) {
	static const char* names[] = {"NVRTC_SUCCESS",
	                              "NVRTC_ERROR_OUT_OF_MEMORY",
	                              "NVRTC_ERROR_PROGRAM_CREATION_FAILURE",
	                              "NVRTC_ERROR_INVALID_INPUT",
	                              "NVRTC_ERROR_INVALID_PROGRAM",
	                              "NVRTC_ERROR_INVALID_OPTION",
	                              "NVRTC_ERROR_COMPILATION",
	                              "NVRTC_ERROR_BUILTIN_OPERATION_FAILURE",
	                              "NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION",
	                              "NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION",
	                              "NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID",
	                              "NVRTC_ERROR_INTERNAL_ERROR"};
	if (r < 0 || r > 11) return "NVRTC_ERROR unknown";
	return names[r];
}

int emu_nvrtcCreateProgram(nvrtcProgram* p, const char* src, const char* name, int nh, const char* const* headers,
                           const char* const* includeNames) {
	if (!p || !src) return NVRTC_ERROR_INVALID_INPUT;
	if (nh < 0 || (nh > 0 && (!headers || !includeNames))) return NVRTC_ERROR_INVALID_INPUT;
	Program* pr = new Program();
	pr->src = src;
	pr->name = name ? name : "default_program";
	for (int i = 0; i < nh; i++) pr->headers.push_back({includeNames[i], headers[i]});
	*p = pr;
	return 0;
}

int emu_nvrtcDestroyProgram(nvrtcProgram* p) {
	if (!p || !*p) return NVRTC_ERROR_INVALID_PROGRAM;
	delete (Program*)*p;
	*p = nullptr;
	return 0;
}

int emu_nvrtcAddNameExpression(nvrtcProgram p, const char* expr) {
	if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
	if (!expr) return NVRTC_ERROR_INVALID_INPUT;
	Program* pr = (Program*)p;
	if (pr->compiled) return NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION;
	pr->exprs.push_back(expr);
	return 0;
}

int emu_nvrtcCompileProgram(nvrtcProgram p, int n, const char* const* opts) {
	if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
	if (n < 0 || (n > 0 && !opts)) return NVRTC_ERROR_INVALID_INPUT;
	Program* pr = (Program*)p;
	pr->log.clear();
	std::string flags;
	for (int i = 0; i < n; i++) {
		std::string o = opts[i] ? opts[i] : "";
		if (!Known(o)) {
			pr->log = "nvrtc: error: invalid option " + o + "\n";
			return NVRTC_ERROR_INVALID_OPTION;
		}
		if (o.compare(0, 2, "-D") == 0 || o.compare(0, 2, "-U") == 0 || o.compare(0, 2, "-I") == 0)
			flags += " " + ShellQuote(o);
		else if (o.compare(0, 15, "--define-macro=") == 0) flags += " " + ShellQuote("-D" + o.substr(15));
		else if (o.compare(0, 15, "--include-path=") == 0) flags += " " + ShellQuote("-I" + o.substr(15));
		else if (o == "-w" || o == "--disable-warnings") flags += " -w";
		else if (o == "-Werror") flags += " -Werror";
	}
	std::string blank = Blank(pr->src);
	std::vector<std::string> kernels = FindKernels(blank);
	std::string err;
	std::string body = RewriteDynShared(pr->src, &err);
	if (!err.empty()) {
		pr->log = pr->name + ": error: " + err + "\n";
		return NVRTC_ERROR_COMPILATION;
	}
	char dir[] = "/tmp/nvae-emu-nvrtc-XXXXXX";
	if (!mkdtemp(dir)) return NVRTC_ERROR_BUILTIN_OPERATION_FAILURE;
	std::string d = dir;
	for (auto& h : pr->headers) {
		std::string path = d + "/" + h.first;
		size_t slash = path.rfind('/');
		std::string cmd = "mkdir -p " + ShellQuote(path.substr(0, slash));
		if (system(cmd.c_str()) != 0) return NVRTC_ERROR_BUILTIN_OPERATION_FAILURE;
		WriteFile(path, h.second);
	}
	WriteFile(d + "/cuda_emu.h", emu::KernelHeader());
	std::ostringstream tu;
	tu << "#include \"cuda_emu.h\"\n#line 1 \"" << pr->name << "\"\n" << body << "\n";
	tu << "#line 1 \"<emulator entry points>\"\n";
	for (auto& k : kernels) {
		tu << "extern \"C\" __attribute__((visibility(\"default\"))) void __emu_entry_" << k
		   << "(void** p) { __emu_invoke(" << k << ", p); }\n";
		tu << "extern \"C\" __attribute__((visibility(\"default\"))) int __emu_argsizes_" << k
		   << "(size_t* s) { return __emu_argsizes(" << k << ", s); }\n";
		pr->lowered[k] = k;
	}
	for (size_t i = 0; i < pr->exprs.size(); i++) {
		const std::string& e = pr->exprs[i];
		std::string k;
		for (auto& kn : kernels)
			if (kn == e) k = kn;
		if (!k.empty()) continue;
		std::string low = "__nvae_expr_" + std::to_string(i);
		tu << "extern \"C\" __attribute__((visibility(\"default\"))) void __emu_entry_" << low
		   << "(void** p) { __emu_invoke(&" << e << ", p); }\n";
		tu << "extern \"C\" __attribute__((visibility(\"default\"))) int __emu_argsizes_" << low
		   << "(size_t* s) { return __emu_argsizes(&" << e << ", s); }\n";
		pr->lowered[e] = low;
	}
	WriteFile(d + "/kernel.cc", tu.str());
	std::string cmd = emu::Cxx() + " -std=c++17 -O2 -fPIC -shared -fno-strict-aliasing -I" + ShellQuote(d) + flags +
	                  " -o " + ShellQuote(d + "/kernel.so") + " " + ShellQuote(d + "/kernel.cc") + " 2>&1";
	FILE* f = popen(cmd.c_str(), "r");
	if (!f) return NVRTC_ERROR_BUILTIN_OPERATION_FAILURE;
	std::string log;
	char buf[4096];
	size_t got;
	while ((got = fread(buf, 1, sizeof buf, f)) > 0) log.append(buf, got);
	int st = pclose(f);
	// The log names the program, not the temporary folder.
	for (size_t at; (at = log.find(d + "/")) != std::string::npos;) log.erase(at, d.size() + 1);
	pr->log = log;
	pr->compiled = true;
	bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	std::string image;
	if (ok) {
		std::ifstream in(d + "/kernel.so", std::ios::binary);
		std::string so((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
		unsigned long long len = so.size();
		image = "NVAEEMU1" + std::string((const char*)&len, 8) + so;
	}
	std::string rm = "rm -rf " + ShellQuote(d);
	if (system(rm.c_str()) != 0) {
	}
	if (!ok) {
		pr->lowered.clear();
		return NVRTC_ERROR_COMPILATION;
	}
	pr->image = image;
	return 0;
}

int emu_nvrtcGetProgramLogSize(nvrtcProgram p, size_t* n) {
	if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
	if (!n) return NVRTC_ERROR_INVALID_INPUT;
	*n = ((Program*)p)->log.size() + 1;
	return 0;
}

int emu_nvrtcGetProgramLog(nvrtcProgram p, char* log) {
	if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
	if (!log) return NVRTC_ERROR_INVALID_INPUT;
	Program* pr = (Program*)p;
	memcpy(log, pr->log.c_str(), pr->log.size() + 1);
	return 0;
}

int emu_nvrtcGetPTXSize(nvrtcProgram p, size_t* n) {
	if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
	if (!n) return NVRTC_ERROR_INVALID_INPUT;
	Program* pr = (Program*)p;
	if (pr->image.empty()) return NVRTC_ERROR_INVALID_PROGRAM;
	*n = pr->image.size();
	return 0;
}

int emu_nvrtcGetPTX(nvrtcProgram p, char* ptx) {
	if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
	if (!ptx) return NVRTC_ERROR_INVALID_INPUT;
	Program* pr = (Program*)p;
	if (pr->image.empty()) return NVRTC_ERROR_INVALID_PROGRAM;
	memcpy(ptx, pr->image.data(), pr->image.size());
	return 0;
}

int emu_nvrtcGetLoweredName(nvrtcProgram p, const char* expr, const char** lowered) {
	if (!p) return NVRTC_ERROR_INVALID_PROGRAM;
	if (!expr || !lowered) return NVRTC_ERROR_INVALID_INPUT;
	Program* pr = (Program*)p;
	if (!pr->compiled) return NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION;
	auto it = pr->lowered.find(expr);
	if (it == pr->lowered.end()) return NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID;
	*lowered = it->second.c_str();
	return 0;
}

}  // extern "C"
