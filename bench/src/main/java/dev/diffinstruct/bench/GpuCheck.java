package dev.diffinstruct.bench;

import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.distill.CudaChecks;
import dev.diffinstruct.trainer.distill.DistillRun;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The Java half of scripts/gpu-check.sh: the CUDA checks ({@link CudaChecks}) as a table, then the
 * wall time of a training step of each prepared case on the device, as JSON for the script to set
 * beside its PyTorch twin (bench/train_step.py --device). Exit 1 when a check fails.
 * Usage: GpuCheck DEVICE WORKDIR TIMINGS_JSON [case...]   (cases default: mixture unet)
 */
public final class GpuCheck {
    public static void main(String[] args) throws IOException {
        Device device = Device.parse(args[0]);
        Path work = Path.of(args[1]);
        Path timings = Path.of(args[2]);
        String[] cases = args.length > 3 ? java.util.Arrays.copyOfRange(args, 3, args.length) : new String[] {"mixture", "unet"};
        System.out.println("libtorch " + Torch.version() + ", CUDA devices: " + Torch.cudaDeviceCount() + ", checks on " + device);
        boolean ok = true;
        System.out.printf("%-46s %-5s %s%n", "check", "ok", "figures");
        for (CudaChecks.Check c : CudaChecks.all(Files.createDirectories(work), device)) {
            System.out.printf("%-46s %-5s %s%n", c.name(), c.ok() ? "yes" : "NO", c.detail());
            ok &= c.ok();
        }
        Map<String, Double> us = new LinkedHashMap<>();
        for (String name : cases) {
            try (DistillRun di = BenchCases.trainer(name, device.toString())) {
                int warmup = name.equals("mixture") ? 200 : 20, steps = name.equals("mixture") ? 1000 : 100;
                for (int i = 0; i < warmup; i++) di.benchmarkStep();
                sync(di);
                long t0 = System.nanoTime();
                for (int i = 0; i < steps; i++) di.benchmarkStep();
                sync(di);
                us.put("trainStep[model=" + name + "]", (System.nanoTime() - t0) / 1e3 / steps);
            }
        }
        StringBuilder json = new StringBuilder("{");
        us.forEach((k, v) -> json.append(json.length() > 1 ? ", " : "").append('"').append(k).append("\": {\"mean_us\": ").append(v).append('}'));
        Files.writeString(timings, json.append('}').toString());
        if (!ok) System.exit(1);
    }

    /** Waits for the device: reading a value back is a synchronisation. */
    private static void sync(DistillRun di) {
        try (Scope s = Scope.open()) {
            di.fakeScore().parameters().get(0).sum().item();
        }
    }
}
