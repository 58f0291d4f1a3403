package dev.diffinstruct.cli;

import dev.diffinstruct.trainer.diffusion.DdpmSchedule;
import dev.diffinstruct.trainer.diffusion.TeacherKind;
import dev.diffinstruct.trainer.diffusion.TeacherSpec;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;

/** The noise-schedule constants of a raw VP or DDPM teacher (mixed into teacher-sample and import module). */
final class ScheduleOptions {
    @Option(names = "--beta-min", defaultValue = "0.1", paramLabel = "B", description = "vp-eps: beta(0) (default: ${DEFAULT-VALUE}).")
    double betaMin;

    @Option(names = "--beta-max", defaultValue = "20", paramLabel = "B", description = "vp-eps: beta(1) (default: ${DEFAULT-VALUE}).")
    double betaMax;

    @Option(names = "--time-scale", defaultValue = "1", paramLabel = "S", description = "vp-eps: the network gets t times this (999 for nets taking t in DDPM step units) (default: ${DEFAULT-VALUE}).")
    double timeScale;

    @Option(names = "--schedule", defaultValue = "linear", paramLabel = "linear|cosine", converter = ScheduleConverter.class,
            description = "ddpm-*: beta schedule (linear 1e-4..0.02, or Nichol & Dhariwal's cosine) (default: ${DEFAULT-VALUE}).")
    DdpmSchedule schedule;

    @Option(names = "--ddpm-steps", defaultValue = "1000", paramLabel = "T", description = "ddpm-*: number of steps of the table (default: ${DEFAULT-VALUE}).")
    int ddpmSteps;

    TeacherSpec spec(TeacherKind kind, int classes) {
        return new TeacherSpec(kind, betaMin, betaMax, timeScale, schedule, ddpmSteps, classes);
    }

    static final class KindConverter implements ITypeConverter<TeacherKind> {
        @Override
        public TeacherKind convert(String value) {
            return TeacherKind.parse(value);
        }
    }

    static final class ScheduleConverter implements ITypeConverter<DdpmSchedule> {
        @Override
        public DdpmSchedule convert(String value) {
            return DdpmSchedule.parse(value);
        }
    }
}
