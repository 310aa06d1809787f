#pragma once

// recstack.v1.TrainingService over JobRunner and ModelStore: proto <->
// domain, status mapping, metrics.

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "common/metrics/metrics.h"
#include "recstack/v1/training.grpc.pb.h"
#include "services/training/job_runner.h"

namespace recstack::training {

// Declared once at start-up (STYLE rule 8).
struct TrainingMetrics {
  explicit TrainingMetrics(prometheus::Registry& registry);
  prometheus::Histogram* duration;
  prometheus::Counter* iterations;
  prometheus::Gauge* loss;
  prometheus::Gauge* model_version;
  prometheus::Counter* events_consumed;
  prometheus::Counter* jobs[3];  // succeeded, failed, cancelled
  prometheus::Family<prometheus::Gauge>* validation;
  // The feedback log (FeedbackLog::stats): what it holds, what retention
  // dropped, the file's size and rewrites.
  prometheus::Gauge* feedback_impressions;
  prometheus::Gauge* feedback_clicks;
  prometheus::Gauge* feedback_file_bytes;
  prometheus::Gauge* feedback_dropped;
  prometheus::Gauge* feedback_compactions;
  void ObserveFeedback(const FeedbackStats& s);
  metrics::RpcMetrics rpc;
};

// The observer hooks that feed TrainingMetrics.
JobObserver MetricsObserver(TrainingMetrics& metrics);

class TrainingServiceImpl final : public v1::TrainingService::Service {
 public:
  // `feedback` (may be null: no ranker jobs or reports) is the event log's
  // feedback log; `experiments` what the ranking service runs, for reports.
  TrainingServiceImpl(JobRunner& runner, model::ModelStore& store, TrainingMetrics& metrics,
                      FeedbackLog* feedback = nullptr,
                      std::vector<ranking::Experiment> experiments = {});

  grpc::Status StartTraining(grpc::ServerContext*, const v1::StartTrainingRequest*,
                             v1::Job*) override;
  grpc::Status GetJob(grpc::ServerContext*, const v1::GetJobRequest*, v1::Job*) override;
  grpc::Status CancelJob(grpc::ServerContext*, const v1::CancelJobRequest*, v1::Job*) override;
  grpc::Status ListJobs(grpc::ServerContext*, const v1::ListJobsRequest*,
                        v1::ListJobsResponse*) override;
  grpc::Status ListModels(grpc::ServerContext*, const v1::ListModelsRequest*,
                          v1::ListModelsResponse*) override;
  grpc::Status PromoteModel(grpc::ServerContext*, const v1::PromoteModelRequest*,
                            v1::ModelInfo*) override;
  grpc::Status StartRankerTraining(grpc::ServerContext*, const v1::StartRankerTrainingRequest*,
                                   v1::Job*) override;
  grpc::Status EvaluateRanker(grpc::ServerContext*, const v1::EvaluateRankerRequest*,
                              v1::EvaluateRankerResponse*) override;
  grpc::Status ExperimentReport(grpc::ServerContext*, const v1::ExperimentReportRequest*,
                                v1::ExperimentReportResponse*) override;

 private:
  // A ranker by name as EvaluateRanker scores with it: a learned one's
  // current or pinned version (named in *version), or a built-in.
  absl::StatusOr<std::unique_ptr<ranking::Ranker>> TargetRanker(const std::string& name,
                                                                std::string* version);

  JobRunner& runner_;
  model::ModelStore& store_;
  TrainingMetrics& metrics_;
  FeedbackLog* feedback_;
  std::vector<ranking::Experiment> experiments_;
};

// RankerTrainingParams -> a ranker JobSpec with the documented defaults.
absl::StatusOr<JobSpec> RankerSpecFromProto(const v1::RankerTrainingParams& params);

// StartTrainingRequest -> JobSpec with the documented defaults filled in.
absl::StatusOr<JobSpec> SpecFromProto(const v1::StartTrainingRequest& req);

}  // namespace recstack::training
