package dev.diffinstruct.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Npy;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A run's OUT/config.json is a valid --config: running it again gives the same configuration. */
class ConfigRoundTripTest {
    @TempDir
    Path dir;

    private static JsonObject config(Path out) throws Exception {
        JsonObject o = JsonParser.parseString(Files.readString(out.resolve("config.json"))).getAsJsonObject();
        o.remove("out"); // the one field a rerun changes
        return o;
    }

    /** Runs {@code args} into {@code first}, then from first's config.json into {@code second}; both configs must agree. */
    private void roundTrip(String command, Path first, Path second, String... args) throws Exception {
        String[] a = new String[args.length + 3];
        a[0] = command;
        System.arraycopy(args, 0, a, 1, args.length);
        a[args.length + 1] = "--out";
        a[args.length + 2] = first.toString();
        Cli r = Cli.run(a);
        assertEquals(0, r.exitCode(), r.err());
        Cli again = Cli.run(command, "--config", first.resolve("config.json").toString(), "--out", second.toString());
        assertEquals(0, again.exitCode(), again.err());
        assertEquals(config(first), config(second));
    }

    @Test
    void distillAndRefineConfigs() throws Exception {
        // options away from their defaults, the betas pair and --no-dropout among them
        roundTrip("distill", dir.resolve("d1"), dir.resolve("d2"), "--steps", "12", "--warmup-fake", "4", "--batch", "32",
                "--lr-g", "3e-4", "--betas", "0.1,0.99", "--sigma-sampler", "karras", "--rho", "5", "--no-dropout",
                "--objective", "sid", "--ckpt-every", "6", "--log-every", "3", "--seed", "9", "--tf32", "--cudnn-benchmark=false", "-q");
        assertTrue(config(dir.resolve("d1")).get("tf32").getAsBoolean(), "--tf32 did not reach config.json");
        assertFalse(config(dir.resolve("d1")).get("cudnnBenchmark").getAsBoolean(), "--cudnn-benchmark=false did not reach config.json");
        roundTrip("refine", dir.resolve("r1"), dir.resolve("r2"), "--generator", dir.resolve("d1/generator.pt").toString(),
                "--steps", "6", "--warmup-fake", "2", "--batch", "32", "-q");
    }

    @Test
    void demoConfigRunsAgainAsADistillation() throws Exception {
        Path demo = dir.resolve("demo");
        Cli r = Cli.run("demo", "--steps", "20", "--out", demo.toString(), "-q");
        assertEquals(0, r.exitCode(), r.err());
        Cli again = Cli.run("distill", "--config", demo.resolve("config.json").toString(), "--out", dir.resolve("again").toString(), "-q");
        assertEquals(0, again.exitCode(), again.err());
        assertEquals(config(demo), config(dir.resolve("again")));
    }

    @Test
    void trainTeacherConfig() throws Exception {
        Path model = TrainTeacherCommandTest.tinyConvDenoiser(dir.resolve("tiny.pt"), 1e30), data = dir.resolve("data.npy");
        try (Scope s = Scope.open(); Generator g = new Generator(3)) {
            Npy.write(data, Tensor.rand(g, 20, 1, 8, 8).mul(2).sub(1));
        }
        roundTrip("train-teacher", dir.resolve("t1"), dir.resolve("t2"), "--data", data.toString(), "--model", model.toString(),
                "--steps", "6", "--batch", "4", "--lr", "2e-3", "--betas", "0.8,0.99", "--hflip", "--lr-warmup", "2",
                "--log-every", "2", "--ckpt-every", "3", "-q");
    }

    @Test
    void theCommandLineOverridesAConfigsSwitchesBothWays() throws Exception {
        Path on = dir.resolve("on"), off = dir.resolve("off");
        Cli r = Cli.run("distill", "--steps", "4", "--warmup-fake", "2", "--batch", "32", "--tf32", "--out", on.toString(), "-q");
        assertEquals(0, r.exitCode(), r.err());
        // the config's true arrives as the option's default: an explicit false must still win
        Cli again = Cli.run("distill", "--config", on.resolve("config.json").toString(), "--tf32=false", "--cudnn-benchmark=false",
                "--out", off.toString(), "-q");
        assertEquals(0, again.exitCode(), again.err());
        assertFalse(config(off).get("tf32").getAsBoolean());
        assertFalse(config(off).get("cudnnBenchmark").getAsBoolean());
        assertTrue(config(on).get("cudnnBenchmark").getAsBoolean(), "the autotuner's default is on");
    }
}
