package dev.diffinstruct.cli;

import dev.diffinstruct.torch.ScriptModule;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * import module: a Python factory with its weights (.safetensors and a .pt checkpoint dict), as
 * ddpm-eps and vp-eps; the written EDM teacher is compared in Python with the kind's formula on the
 * eager network. The tool's own train-teacher output is accepted as a TorchScript --module.
 */
class ImportModuleTest {
    @TempDir
    static Path dir;

    static final String NET = """
            from typing import Optional
            import torch
            from torch import nn

            class Eps(nn.Module):
                def __init__(self, ch: int = 1, hidden: int = 8, classes: int = 0):
                    super().__init__()
                    self.conv1 = nn.Conv2d(ch, hidden, 3, padding=1)
                    self.emb = nn.Linear(1, hidden)
                    self.lab = nn.Embedding(max(classes, 1), hidden)
                    self.conv2 = nn.Conv2d(hidden, ch, 3, padding=1)

                def forward(self, x, t, y: Optional[torch.Tensor] = None):
                    h = self.conv1(x) + self.emb(t.float().reshape(-1, 1) / 1000)[:, :, None, None]
                    if y is not None:
                        h = h + self.lab(y)[:, :, None, None]
                    return self.conv2(torch.tanh(h))
            """;

    /** Writes net.py, cond.safetensors (3 classes; written by hand: torch 1.13 has no safetensors) and uncond.pt. */
    @BeforeAll
    static void weights() throws Exception {
        Files.writeString(dir.resolve("net.py"), NET);
        ImportCommandTest.pythonIn(dir, "-c", """
                import json, struct, sys, torch
                sys.path.insert(0, '.')
                import net
                torch.manual_seed(0)
                sd = net.Eps(classes=3).state_dict()
                header, blobs, off = {}, [], 0
                for k, v in sd.items():
                    b = v.contiguous().numpy().tobytes()
                    header[k] = dict(dtype='F32', shape=list(v.shape), data_offsets=[off, off + len(b)])
                    blobs.append(b); off += len(b)
                h = json.dumps(header).encode()
                open('cond.safetensors', 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
                u = net.Eps().state_dict()
                torch.save({'model': {'module.' + k: v for k, v in u.items()}, 'step': 7}, 'uncond.pt')
                """);
    }

    static Cli importModule(String... args) {
        List<String> a = new ArrayList<>(List.of("import", "module", "--python", ImportCommandTest.PY, "--path", dir.toString()));
        a.addAll(List.of(args));
        return Cli.run(a.toArray(String[]::new));
    }

    @Test
    void ddpmEpsWithIndexLabelsFromSafetensors() throws Exception {
        Path out = dir.resolve("ddpm.pt");
        Cli r = importModule("--module", "net:Eps", "--kwargs", "{\"classes\": 3}", "--weights", dir.resolve("cond.safetensors").toString(),
                "--kind", "ddpm-eps", "--shape", "1,6,6", "--classes", "3", "--labels", "index", "--out", out.toString());
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(r.out().contains("ddpm-eps (linear, 1000 steps)"), r.out());
        try (ScriptModule t = ScriptModule.load(out)) {
            assertArrayEquals(new long[] {1, 6, 6}, t.getIntList("data_shape"));
            assertEquals(3, t.getDouble("num_classes"));
        }
        // D(x, sigma_k) = x - sigma_k eps(x / sqrt(1 + sigma_k^2), k, y) at table levels of the linear schedule
        String err = ImportCommandTest.pythonIn(dir, "-c", """
                import json, struct, sys, torch
                sys.path.insert(0, '.')
                import net
                raw = open('cond.safetensors', 'rb').read(); n = struct.unpack('<Q', raw[:8])[0]
                sd = {k: torch.frombuffer(bytearray(raw[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]]), dtype=torch.float32).reshape(v['shape'])
                      for k, v in json.loads(raw[8:8 + n]).items()}
                eps = net.Eps(classes=3); eps.load_state_dict(sd); eps.eval()
                abar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0)
                table = ((1 - abar) / abar).sqrt()
                k = torch.tensor([0, 10, 200, 999]); s = table[k].float(); y = torch.tensor([0, 1, 2, 1])
                x = torch.randn(4, 1, 6, 6) * (1 + s.reshape(-1, 1, 1, 1))
                teacher = torch.jit.load(sys.argv[1])
                with torch.no_grad():
                    d = teacher(x, s, torch.eye(3)[y])
                    ref = x - s.reshape(-1, 1, 1, 1) * eps(x / (1 + s.reshape(-1, 1, 1, 1) ** 2).sqrt(), k, y)
                print(float((d - ref).abs().max() / ref.abs().max()))
                """, out.toString());
        assertTrue(Double.parseDouble(err.strip()) < 1e-5, err);
    }

    @Test
    void tracedVpEpsFromACheckpointDict() throws Exception {
        Path out = dir.resolve("vp.pt");
        Cli r = importModule("--module", dir.resolve("net.py") + ":Eps", "--weights", dir.resolve("uncond.pt").toString(),
                "--kind", "vp-eps", "--time-scale", "999", "--shape", "1,6,6", "--trace", "--out", out.toString());
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(r.err().contains("entry 'model'"), r.err());
        String err = ImportCommandTest.pythonIn(dir, "-c", """
                import sys, torch
                sys.path.insert(0, '.')
                import net
                eps = net.Eps(); eps.load_state_dict({k[7:]: v for k, v in torch.load('uncond.pt')['model'].items()}); eps.eval()
                s = torch.tensor([0.01, 0.5, 3.0, 80.0]); sd = s.double()
                t = ((0.1 ** 2 + 2 * 19.9 * torch.log1p(sd * sd)).sqrt() - 0.1) / 19.9
                x = torch.randn(4, 1, 6, 6) * (1 + s.reshape(-1, 1, 1, 1))
                teacher = torch.jit.load(sys.argv[1])
                with torch.no_grad():
                    d = teacher(x, s)
                    ref = x - s.reshape(-1, 1, 1, 1) * eps(x / (1 + s.reshape(-1, 1, 1, 1) ** 2).sqrt(), (t * 999).float())
                print(float((d - ref).abs().max() / ref.abs().max()))
                """, out.toString());
        assertTrue(Double.parseDouble(err.strip()) < 1e-5, err);
    }

    /** train-teacher's output as a --module: its class count comes from its own label_dim. */
    @Test
    void theToolsOwnTeacherPassesTheChecks() {
        Path out = dir.resolve("own.pt");
        Path own = ImportCommandTest.REPO.resolve("assets/fashion-mnist/teacher-cond.pt");
        Cli r = importModule("--module", own.toString(), "--kind", "edm", "--out", out.toString());
        assertEquals(0, r.exitCode(), r.toString());
        assertTrue(r.out().contains("10 classes") && r.out().contains("on this LibTorch"), r.out());
    }

    @Test
    void badModulesAreOneLine() {
        Path out = dir.resolve("bad.pt");
        ImportCommandTest.assertRefused(importModule("--module", "net:Nope", "--kind", "edm", "--shape", "1,6,6", "--out", out.toString()),
                out, "has no callable Nope");
        ImportCommandTest.assertRefused(importModule("--module", "nowhere_module:F", "--kind", "edm", "--shape", "1,6,6", "--out", out.toString()),
                out, "cannot be imported");
        ImportCommandTest.assertRefused(importModule("--module", "net:Eps", "--weights", dir.resolve("cond.safetensors").toString(),
                "--kind", "ddpm-eps", "--shape", "1,6,6", "--out", out.toString()), out, "lab.weight has shape [3, 8]");
        ImportCommandTest.assertRefused(importModule("--module", "net:Eps", "--kind", "ddpm-eps", "--shape", "2,6,6", "--out", out.toString()),
                out, "cannot be called");
        ImportCommandTest.assertRefused(importModule("--module", "net:Eps", "--kwargs", "[1]", "--kind", "edm", "--shape", "1,6,6",
                "--out", out.toString()), out, "JSON object");
    }
}
