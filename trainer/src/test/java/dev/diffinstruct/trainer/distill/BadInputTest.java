package dev.diffinstruct.trainer.distill;

import dev.diffinstruct.torch.Generator;
import dev.diffinstruct.torch.Scope;
import dev.diffinstruct.torch.ScriptModule;
import dev.diffinstruct.torch.Tensor;
import dev.diffinstruct.trainer.InvalidInputException;
import dev.diffinstruct.trainer.models.BuiltinModels;
import dev.diffinstruct.trainer.run.TrainingListener;
import dev.diffinstruct.trainer.run.TrainingLoop;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.*;

/** Bad input fails before any training, with one clear line. */
class BadInputTest {
    @TempDir
    Path dir;

    private DistillConfig cfg() {
        DistillConfig c = ResumeTest.small(dir.resolve("out"));
        c.steps = 3;
        return c;
    }

    private Path module(String name, String source) {
        Path p = dir.resolve(name);
        try (ScriptModule m = ScriptModule.create("Bad")) {
            m.define(source);
            m.save(p);
        }
        return p;
    }

    /** Opening a run with {@code c} fails with one line of bad input (shared with the conditional tests). */
    static InvalidInputException fails(DistillConfig c) {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> DistillRun.open(c, false, TrainingListener.none()).close());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        System.out.println("rejected: " + e.getMessage());
        return e;
    }

    @Test
    void teacherWithTheWrongSignature() {
        DistillConfig c = cfg();
        c.teacher = module("t1.pt", """
                def forward(self, x: Tensor) -> Tensor:
                    return x
                """).toString();
        c.dataShape = new long[] {2};
        InvalidInputException e = fails(c);
        assertTrue(e.getMessage().contains("forward(x, sigma) fails") && e.getMessage().contains("takes 1 argument"), e.getMessage());
    }

    @Test
    void teacherReturningTheWrongShape() {
        DistillConfig c = cfg();
        c.teacher = module("t2.pt", """
                def forward(self, x: Tensor, sigma: Tensor) -> Tensor:
                    return x.sum(1)
                """).toString();
        c.dataShape = new long[] {2};
        assertTrue(fails(c).getMessage().contains("returns shape [2]"));
    }

    @Test
    void teacherReturningNaN() {
        DistillConfig c = cfg();
        c.teacher = module("t3.pt", """
                def forward(self, x: Tensor, sigma: Tensor) -> Tensor:
                    return x * float('nan')
                """).toString();
        c.dataShape = new long[] {2};
        assertTrue(fails(c).getMessage().contains("NaN"));
    }

    @Test
    void teacherFileWithoutDataShape() {
        DistillConfig c = cfg();
        c.teacher = module("t4.pt", """
                def forward(self, x: Tensor, sigma: Tensor) -> Tensor:
                    return x
                """).toString();
        assertTrue(fails(c).getMessage().contains("--data-shape"));
    }

    @Test
    void missingTeacherFile() {
        DistillConfig c = cfg();
        c.teacher = dir.resolve("nope.pt").toString();
        // one teacher loader for every command now: a missing file is bad input naming the teacher, as teacher-sample said before
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> DistillRun.open(c, false, TrainingListener.none()));
        assertTrue(e.getMessage().startsWith("teacher ") && e.getMessage().contains("nope.pt"), e.getMessage());
    }

    @Test
    void generatorWithTheWrongOutputShape() {
        Path g = dir.resolve("g.pt");
        try (Scope s = Scope.open(); Generator init = new Generator(1);
             ScriptModule m = BuiltinModels.mlpGenerator(new long[] {4}, new long[] {3}, 8, 1, init)) {
            m.save(g);
        }
        DistillConfig c = cfg();
        c.generator = g.toString();
        c.latentShape = null; // from the file's latent_shape attribute
        InvalidInputException e = fails(c);
        assertTrue(e.getMessage().contains("output shape [3] differs from the teacher's data shape [2]"), e.getMessage());
    }

    @Test
    void unknownTeacherKindAndBadOptions() {
        DistillConfig c = cfg();
        c.teacherKind = "vp-x0";
        c.teacher = module("t5.pt", """
                def forward(self, x: Tensor, sigma: Tensor) -> Tensor:
                    return x
                """).toString();
        assertTrue(fails(c).getMessage().contains("--teacher-kind"));
        DistillConfig d = cfg();
        d.batch = 0;
        assertTrue(fails(d).getMessage().contains("--batch"));
        DistillConfig e = cfg();
        e.sigmaSampler = "karras";
        e.sigmaMin = 5;
        e.sigmaMax = 1;
        assertTrue(fails(e).getMessage().contains("--sigma-min"));
    }

    @Test
    void unwritableOutputFolder() throws Exception {
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        DistillConfig c = cfg();
        c.out = file.resolve("sub").toString();
        assertTrue(fails(c).getMessage().contains("not a writable folder"));
    }

    @Test
    void outputFolderHoldingARunNeedsResume() {
        DistillConfig c = cfg();
        try (DistillRun di = DistillRun.open(c, false, TrainingListener.none())) {
            assertTrue(di.run(TrainingListener.none(), new AtomicBoolean()).complete());
        }
        assertTrue(fails(c).getMessage().contains("--resume"));
    }

    @Test
    void nonFiniteGradientsAreSkippedAndCounted() {
        // a teacher that is fine on the dummy batch but returns Inf during training (large sigma)
        DistillConfig c = cfg();
        c.teacher = module("t6.pt", """
                def forward(self, x: Tensor, sigma: Tensor) -> Tensor:
                    s = sigma.reshape(-1, 1)
                    return torch.where((s > 0.6) & (s < 1.9), x * float('inf'), x * 0.0)
                """).toString();
        c.dataShape = new long[] {2};
        c.warmupFake = 0;
        c.steps = 5;
        java.util.List<String> messages = new java.util.ArrayList<>();
        try (DistillRun di = DistillRun.open(c, false, TrainingListener.none());
             Scope s = Scope.open(); Generator g = new Generator(3)) {
            Tensor before = di.sample(g, 16, false);
            TrainingLoop.Result r = di.run(new TrainingListener<StepMetrics>() {
                @Override
                public void onMessage(String line) {
                    messages.add(line);
                }
            }, new AtomicBoolean());
            assertEquals(5, r.skippedSteps(), messages.toString());
            assertTrue(messages.get(0).contains("non-finite generator gradient"), messages.toString());
            try (Generator g2 = new Generator(3)) {
                // exact by construction: untouched parameters, the same draw and forward in this process
                assertTrue(di.sample(g2, 16, false).allClose(before, 0, 0), "skipped steps leave the generator unchanged");
            }
        }
    }
}
