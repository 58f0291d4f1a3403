package dev.diffinstruct.bench;

import dev.diffinstruct.torch.DType;
import dev.diffinstruct.torch.Device;
import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.torch.Torch;
import dev.diffinstruct.trainer.distill.DistillConfig;

import java.nio.file.Path;

/**
 * Teacher forward time per image, for networks too large for a JMH run on a small machine (the
 * cifar case: 55.7 M parameters): {@code reps} forwards of a batch at sigma 1 in eval mode without
 * gradients, after one untimed forward; prints the mean and the spread. Twin: the inline Python of
 * bench/compare.sh cifar. Usage: ForwardTimer [case] [batch] [reps] [threads]
 */
public final class ForwardTimer {
    public static void main(String[] args) {
        String name = args.length > 0 ? args[0] : "cifar";
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int reps = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        BenchCases.applyThreads(args.length > 3 ? Integer.parseInt(args[3]) : 1);
        Torch.setFlushDenormal(true);
        DistillConfig cfg = BenchCases.config(name);
        long[] shape = new long[cfg.dataShape.length + 1];
        shape[0] = batch;
        System.arraycopy(cfg.dataShape, 0, shape, 1, cfg.dataShape.length);
        try (ScriptModule teacher = ScriptModule.load(Path.of(cfg.teacher)); Generator g = new Generator(0);
             Torch.GradMode ng = Torch.noGrad()) {
            teacher.train(false);
            double[] ms = new double[reps];
            for (int i = -1; i < reps; i++) {
                try (Scope s = Scope.open()) {
                    Tensor x = Tensor.randn(g, DType.FLOAT32, Device.CPU, shape);
                    Tensor sigma = Tensor.of(new float[batch]).add(1.0);
                    long t0 = System.nanoTime();
                    teacher.forward(x, sigma).sum().item(); // item(): the forward has finished
                    if (i >= 0) ms[i] = (System.nanoTime() - t0) / 1e6 / batch;
                }
            }
            double mean = 0, min = Double.MAX_VALUE, max = 0;
            for (double v : ms) {
                mean += v / reps;
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
            System.out.printf("%s java: teacher forward %.1f ms/image at batch %d (min %.1f, max %.1f over %d), %d threads%n",
                    name, mean, batch, min, max, reps, Torch.threads());
        }
    }
}
