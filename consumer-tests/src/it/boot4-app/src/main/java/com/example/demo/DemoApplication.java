package com.example.demo;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.restclient.RestTemplateBuilder;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.client.RestClient;
import org.springframework.web.client.RestTemplate;

@SpringBootApplication
@RestController
public class DemoApplication {

  private final RestClient rest;
  private final RestTemplate template;

  DemoApplication(RestClient.Builder rest, RestTemplateBuilder template) {
    this.rest = rest.build();
    this.template = template.build();
  }

  /** Calls service catalog by its name in the mesh, with RestClient and with RestTemplate. */
  @GetMapping("/front")
  String front() {
    return rest.get().uri("http://catalog/items").retrieve().body(String.class) + " | "
        + template.getForObject("http://catalog/items", String.class);
  }

  public static void main(String[] args) {
    SpringApplication.run(DemoApplication.class, args);
  }
}
