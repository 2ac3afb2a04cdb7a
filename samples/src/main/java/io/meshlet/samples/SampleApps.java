package io.meshlet.samples;

import java.util.Map;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * Starts a sample app: its settings come from {@code <name>.yml} on the class path (the apps share
 * one jar, so each has its own config name), and a process started by the demo ends when the demo
 * does, even if the demo was killed and could not stop it.
 */
public final class SampleApps {

  /** The system property naming the process whose exit ends this app (the demo sets it). */
  public static final String PARENT_PID = "meshlet.samples.parent-pid";

  private SampleApps() {
  }

  /** Runs the app with its own config name, for example {@code catalog} for {@code catalog.yml}. */
  public static ConfigurableApplicationContext run(Class<?> app, String configName, String[] args) {
    exitWithParent();
    SpringApplication spring = new SpringApplication(app);
    spring.setDefaultProperties(Map.of("spring.config.name", configName));
    return spring.run(args);
  }

  private static void exitWithParent() {
    String pid = System.getProperty(PARENT_PID);
    if (pid == null) {
      return;
    }
    ProcessHandle.of(Long.parseLong(pid)).ifPresentOrElse(
        parent -> parent.onExit().thenRun(() -> System.exit(0)),
        () -> System.exit(0));
  }
}
