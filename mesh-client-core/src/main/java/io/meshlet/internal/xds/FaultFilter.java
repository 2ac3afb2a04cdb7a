package io.meshlet.internal.xds;

import static io.meshlet.internal.xds.ProtoFields.duration;
import static io.meshlet.internal.xds.ProtoFields.enforcing;
import static io.meshlet.internal.xds.ProtoFields.fieldNames;
import static io.meshlet.internal.xds.ProtoFields.isZero;
import static io.meshlet.internal.xds.ProtoFields.only;
import static io.meshlet.internal.xds.ProtoFields.perMillion;
import static io.meshlet.internal.xds.ProtoFields.u32;
import static io.meshlet.internal.xds.ProtoFields.validRegex;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import io.envoyproxy.envoy.extensions.filters.http.fault.v3.HTTPFault;
import io.meshlet.config.FaultPolicy;
import io.meshlet.config.GrpcStatusMapping;
import io.meshlet.internal.wire.WireNames;
import java.util.Optional;

/** Envoy's fault filter: per-route delays and aborts ({@code typed_per_filter_config}). */
final class FaultFilter implements HttpFilterType {

  @Override
  public String name() {
    return WireNames.FAULT_FILTER;
  }

  @Override
  public String typeName() {
    return HTTPFault.getDescriptor().getFullName();
  }

  @Override
  public Message listenerSettings(Any typedConfig) throws InvalidProtocolBufferException {
    return typedConfig.unpack(HTTPFault.class);
  }

  @Override
  public boolean overridable() {
    return true;
  }

  @Override
  public void applyOverride(Any config, String p, Errors e, RouteOverrides out) {
    out.fault = Optional.ofNullable(fault(config, p, e));
  }

  static FaultPolicy fault(Any config, String p, Errors e) {
    HTTPFault f;
    try {
      f = config.unpack(HTTPFault.class);
    } catch (InvalidProtocolBufferException ex) {
      e.add(p, config.getTypeUrl(), "an HTTPFault");
      return null;
    }
    only(f, e, p, "delay", "abort");
    Optional<FaultPolicy.Delay> delay = Optional.empty();
    if (f.hasDelay()) {
      only(f.getDelay(), e, p + ".delay", "fixed_delay", "percentage");
      if (!f.getDelay().hasFixedDelay()) {
        if (!f.getDelay().hasHeaderDelay()) { // header_delay is already reported by only()
          e.add(p + ".delay", "no fixed_delay", "fixed_delay");
        }
      } else {
        delay = Optional.of(new FaultPolicy.Delay(perMillion(f.getDelay().getPercentage()),
            duration(f.getDelay().getFixedDelay())));
      }
    }
    Optional<FaultPolicy.Abort> abort = Optional.empty();
    if (f.hasAbort()) {
      only(f.getAbort(), e, p + ".abort", "http_status", "grpc_status", "percentage");
      int status = switch (f.getAbort().getErrorTypeCase()) {
        case HTTP_STATUS -> f.getAbort().getHttpStatus();
        case GRPC_STATUS -> GrpcStatusMapping.httpStatus(f.getAbort().getGrpcStatus());
        default -> -1;
      };
      switch (f.getAbort().getErrorTypeCase()) {
        case HTTP_STATUS, GRPC_STATUS -> {
          if (status < 200 || status > 599) {
            e.add(p + ".abort.http_status", Integer.toUnsignedString(f.getAbort().getHttpStatus()), "200..599");
          } else {
            abort = Optional.of(new FaultPolicy.Abort(perMillion(f.getAbort().getPercentage()), status));
          }
        }
        case ERRORTYPE_NOT_SET -> e.add(p + ".abort", "no error type", "http_status or grpc_status");
        default -> { } // header_abort is already reported by only()
      }
    }
    return new FaultPolicy(delay, abort);
  }
}
